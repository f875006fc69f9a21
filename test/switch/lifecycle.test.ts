/**
 * Lifecycle edges (issue 13): a Switch runs once; start() after stop() and dials after stop() fail
 * typed (ERR_STOPPED), a dial before start() says so (ERR_NOT_STARTED), a dial made while start() runs
 * waits for it. And dials of addresses without a node id are an explicit opt-in.
 *
 * Stop hooks: cleanup for what lives as long as a node but is no agent (the Node platform's home lock).
 * stop() runs them last, the last added first, each awaited but bounded by stopTimeoutMs; failures are
 * reported as 'stop-hook:error' and never keep the others from running or stop() from finishing.
 */
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startNode, stopAll, TEST_CHANNELS } from '../helpers/nodes.js';
import { generateNodeKey } from '../../src/crypto/keys.js';
import { ConfigError, NotRunningError, TimeoutError } from '../../src/errors.js';
import { PEXAgent } from '../../src/pex/pex-agent.js';
import type { Agent } from '../../src/switch/agent.js';
import { MAX_STOP_HOOKS } from '../../src/switch/constants.js';
import { Switch } from '../../src/switch/switch.js';
import { parseAddress } from '../../src/transport/address.js';
import { tcpTransport } from '../../platforms/node/tcp.js';
import { nodeChaCha20Poly1305 } from '../../platforms/node/aead.js';
import { waitFor } from '../helpers/wait.js';

const made: Switch[] = [];
afterEach(async () => {
  await Promise.all(made.splice(0).map((sw) => sw.stop()));
  await stopAll();
});

function newSwitch(agents: Record<string, Agent> = {}, dialTimeoutMs = 3000, stopTimeoutMs = 1000): Switch {
  const sw = new Switch({
    identity: generateNodeKey(),
    network: 'test-net',
    transports: [tcpTransport()],
    listen: ['tcp://127.0.0.1:0'],
    aead: nodeChaCha20Poly1305,
    dialTimeoutMs,
    stopTimeoutMs,
  });
  sw.addAgent('recorder', { channels: TEST_CHANNELS });
  for (const [name, agent] of Object.entries(agents)) sw.addAgent(name, agent);
  made.push(sw);
  return sw;
}

/** An agent whose start() waits until `release()` (or fails with `fail()`). */
function gatedAgent(): { agent: Agent; release: () => void; fail: (error: Error) => void; started: Promise<void> } {
  let release!: () => void;
  let fail!: (error: Error) => void;
  let markStarted!: () => void;
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  const gate = new Promise<void>((resolve, reject) => {
    release = resolve;
    fail = reject;
  });
  return {
    agent: {
      channels: [],
      start: async () => {
        markStarted();
        await gate;
      },
    },
    release,
    fail,
    started,
  };
}

describe('Switch lifecycle', () => {
  it('a stopped Switch does not start again: start() rejects with ERR_STOPPED and nothing listens', async () => {
    const sw = newSwitch();
    await sw.start();
    await sw.stop();
    const error = await sw.start().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotRunningError);
    expect(error).toMatchObject({ code: 'ERR_STOPPED', message: expect.stringMatching(/stopped.*create a new one/) });
    expect(sw.isRunning).toBe(false);
    const { port } = parseAddress(sw.addresses[0]!);
    const refused = await new Promise<string | undefined>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port }, () => resolve(undefined));
      socket.on('error', (e: NodeJS.ErrnoException) => resolve(e.code));
      socket.on('connect', () => socket.destroy());
    });
    expect(refused).toBe('ECONNREFUSED');
  });

  it('start() is shared while it runs and resolves at once when running', async () => {
    const gate = gatedAgent();
    const sw = newSwitch({ gate: gate.agent });
    const first = sw.start();
    const second = sw.start();
    expect(second).toBe(first);
    gate.release();
    await first;
    await sw.start();
    expect(sw.isRunning).toBe(true);
  });

  it('a dial before start() fails with ERR_NOT_STARTED; after stop() with ERR_STOPPED', async () => {
    const target = await startNode();
    const sw = newSwitch();
    await expect(sw.dial(target.address)).rejects.toMatchObject({ name: 'NotRunningError', code: 'ERR_NOT_STARTED' });
    await sw.start();
    await sw.stop();
    await expect(sw.dial(target.address)).rejects.toMatchObject({ name: 'NotRunningError', code: 'ERR_STOPPED', message: expect.stringContaining('stopped') });
  });

  it('a dial made while start() runs waits for it, then connects', async () => {
    const target = await startNode();
    const gate = gatedAgent();
    const sw = newSwitch({ gate: gate.agent });
    const starting = sw.start();
    await gate.started;
    let settled = false;
    const dialled = sw.dial(target.address).finally(() => (settled = true));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(settled).toBe(false);
    gate.release();
    await starting;
    const peer = await dialled;
    expect(peer.id).toBe(target.sw.nodeId);
  });

  it('a dial made while start() runs fails with ERR_STOPPED, naming the cause, when the start fails', async () => {
    const target = await startNode();
    const gate = gatedAgent();
    const sw = newSwitch({ gate: gate.agent });
    const starting = sw.start().catch((e: unknown) => e);
    await gate.started;
    const dialled = sw.dial(target.address).catch((e: unknown) => e);
    gate.fail(new Error('agent could not start'));
    expect(await starting).toMatchObject({ message: 'agent could not start' });
    const error = (await dialled) as NotRunningError;
    expect(error).toMatchObject({ code: 'ERR_STOPPED' });
    expect((error.cause as Error).message).toBe('agent could not start');
  });

  it('stop() during start() wins: the start rejects with ERR_STOPPED and the node never runs', async () => {
    const gate = gatedAgent();
    const sw = newSwitch({ gate: gate.agent });
    const starting = sw.start().catch((e: unknown) => e);
    await gate.started;
    const stopping = sw.stop();
    gate.release();
    await stopping;
    expect(await starting).toMatchObject({ code: 'ERR_STOPPED' });
    expect(sw.isRunning).toBe(false);
  });

  it('the wait for start() is bounded by dialTimeoutMs and by the caller’s signal', async () => {
    const target = await startNode();
    const gate = gatedAgent();
    const sw = newSwitch({ gate: gate.agent }, 300);
    void sw.start();
    await gate.started;
    await expect(sw.dial(target.address)).rejects.toMatchObject({ code: 'ERR_TIMEOUT' });
    await expect(sw.dial(target.address, { signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'ERR_ABORTED' });
    gate.release();
  });
});

describe('Addresses without a node id', () => {
  it('are refused with ERR_NO_PEER_ID, saying how to opt in', async () => {
    const target = await startNode();
    const dialer = await startNode();
    const { host, port } = parseAddress(target.address);
    const error = await dialer.sw.dial(`tcp://${host}:${port}`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ code: 'ERR_NO_PEER_ID', message: expect.stringContaining('allowUnknownId') });
    expect(dialer.sw.peers).toHaveLength(0);
  });

  it('connect to whichever node answers with { allowUnknownId: true }', async () => {
    const target = await startNode();
    const dialer = await startNode();
    const { host, port } = parseAddress(target.address);
    const peer = await dialer.sw.dial(`tcp://${host}:${port}`, { allowUnknownId: true });
    expect(peer.id).toBe(target.sw.nodeId);
  });

  it('are refused as PEX seeds and persistent peers (both need the id)', () => {
    expect(() => new PEXAgent({ seeds: ['tcp://127.0.0.1:26656'] })).toThrowError(expect.objectContaining({ code: 'ERR_INVALID_ADDRESS' }));
    const sw = newSwitch();
    const { persistentPeers: _ignored, ...options } = sw.options;
    expect(() => new Switch({ ...options, persistentPeers: ['tcp://127.0.0.1:26656'] })).toThrowError(expect.objectContaining({ code: 'ERR_INVALID_ADDRESS' }));
  });
});

describe('Switch stop hooks', () => {
  it('run after every peer is closed and every agent stopped, the last added first, and stop() awaits them', async () => {
    const other = await startNode();
    const events: string[] = [];
    const sw = newSwitch({ stopping: { channels: [], stop: () => void events.push('agent stopped') } });
    sw.addStopHook('first', () => void events.push(`first: ${sw.peers.length} peers`));
    sw.addStopHook('second', async () => {
      await new Promise((resolve) => setTimeout(resolve, 100));
      events.push(`second: ${sw.peers.length} peers`);
    });
    await sw.start();
    await sw.dial(other.address);
    await waitFor(() => other.sw.peers.length === 1, 5000, 'the peer on the other side');
    await sw.stop();
    expect(events).toEqual(['agent stopped', 'second: 0 peers', 'first: 0 peers']);
    await waitFor(() => other.sw.peers.length === 0, 5000, 'the other side to see the close');
    // Once stopped, they do not run again.
    await sw.stop();
    expect(events).toHaveLength(3);
  });

  it('report a hook that throws or rejects as stop-hook:error, and still run the others', async () => {
    const sw = newSwitch();
    const reported: { hook: string; error: Error }[] = [];
    sw.on('stop-hook:error', (detail) => reported.push(detail));
    const ran: string[] = [];
    sw.addStopHook('runs', () => void ran.push('runs'));
    sw.addStopHook('rejects', () => Promise.reject(new Error('disk gone')));
    sw.addStopHook('throws', () => {
      throw new Error('bad state');
    });
    await sw.start();
    await sw.stop();
    expect(ran).toEqual(['runs']);
    expect(reported.map(({ hook, error }) => [hook, error.message])).toEqual([
      ['throws', 'bad state'],
      ['rejects', 'disk gone'],
    ]);
  });

  it('cut a hook that never settles at stopTimeoutMs with a TimeoutError and abort its signal', async () => {
    const sw = newSwitch({}, 3000, 200);
    const reported: { hook: string; error: Error }[] = [];
    sw.on('stop-hook:error', (detail) => reported.push(detail));
    let hookSignal: AbortSignal | undefined;
    let after = false;
    sw.addStopHook('after', () => void (after = true));
    sw.addStopHook('hangs', (signal) => {
      hookSignal = signal;
      return new Promise<void>(() => undefined);
    });
    await sw.start();
    await sw.stop();
    expect(reported).toHaveLength(1);
    expect(reported[0]!.hook).toBe('hangs');
    expect(reported[0]!.error).toBeInstanceOf(TimeoutError);
    expect(reported[0]!.error.message).toMatch(/Stop hook "hangs" timed out after 200 ms/);
    expect(hookSignal?.aborted).toBe(true);
    expect(after).toBe(true);
    expect(sw.isRunning).toBe(false);
  });

  it('run when start() fails, so what the hook guards is given back', async () => {
    let released = false;
    const sw = newSwitch({
      broken: {
        channels: [],
        start: () => {
          throw new Error('agent cannot start');
        },
      },
    });
    sw.addStopHook('release', () => void (released = true));
    await expect(sw.start()).rejects.toThrow('agent cannot start');
    expect(released).toBe(true);
  });

  it('are refused once stop() has begun, twice under one name, past MAX_STOP_HOOKS, or when not a function', async () => {
    const sw = newSwitch();
    sw.addStopHook('only', () => undefined);
    expect(() => sw.addStopHook('only', () => undefined)).toThrow(ConfigError);
    expect(() => sw.addStopHook('nothing', undefined as unknown as () => void)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    for (let i = 1; i < MAX_STOP_HOOKS; i++) sw.addStopHook(`hook-${i}`, () => undefined);
    expect(() => sw.addStopHook('one too many', () => undefined)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_CONFIG', message: `At most ${MAX_STOP_HOOKS} stop hooks` }));
    await sw.stop();
    const late = (() => {
      try {
        sw.addStopHook('late', () => undefined);
        return undefined;
      } catch (error) {
        return error;
      }
    })();
    expect(late).toBeInstanceOf(NotRunningError);
    expect(late).toMatchObject({ code: 'ERR_STOPPED' });
  });
});
