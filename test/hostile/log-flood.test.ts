/**
 * The relay program wrote one log line per rejected inbound connection or failed handshake, at the
 * default level: anyone who can open TCP connections set how fast its log grew (~100 KB/s measured).
 * Now each such event writes a burst of lines, then a steady trickle, and the rest is counted in a
 * 'log:suppressed' line. Over real TCP on 127.0.0.1, the node built by `runNode`, as `meshlink node`.
 */
import { connect, type Socket } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { parseAddress } from '../../src/transport/address.js';
import { runNode, type NodeConfig, type RunningNode } from '../../demo/node-runner.js';
import { LOG_BURST_LINES, LOG_LINES_PER_SEC, limitPeerDrivenLogs } from '../../demo/log-limit.js';
import type { LogFields, LogLevel } from '../../demo/log.js';
import { waitFor } from '../helpers/wait.js';
import { startNode, stopAll } from '../helpers/nodes.js';
import { ChatCh, DEFAULT_CHAT_PEER_BURST, MAX_CHAT_MESSAGE_BYTES, encodeChatMessage } from '../../demo/agents/chat.js';

const nodes: RunningNode[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((node) => node.stop()));
  await stopAll();
});

interface Line {
  level: LogLevel;
  event: string;
  fields: LogFields;
}

/** The relay program's node on 127.0.0.1 (TCP only), its log lines recorded in `lines`. */
async function startRelay(network: string, lines: Line[]): Promise<RunningNode> {
  const config: NodeConfig = {
    listen: ['tcp://127.0.0.1:0'], ws: undefined, persistent: [], seeds: [], home: undefined, network, moniker: 'n',
    status: undefined, maxInbound: undefined, maxOutbound: undefined, allowLocal: true,
  };
  const node = await runNode(config, (level, event, fields = {}) => lines.push({ level, event, fields }));
  nodes.push(node);
  return node;
}

/** Opens a TCP connection that sends bytes that are no handshake; returns the socket. */
function failedHandshake(host: string, port: number): Socket {
  const socket = connect({ host, port }, () => socket.write(new Uint8Array(64).fill(0xff)));
  socket.on('error', () => undefined);
  return socket;
}

it('a flood of failed handshakes writes a bounded number of log lines and says how many it held back', async () => {
  const lines: Line[] = [];
  const node = await startRelay('log-flood-net', lines);
  const { host, port } = parseAddress(node.sw.addresses[0]!);
  const ATTEMPTS = 300;
  let rejected = 0;
  node.sw.on('inbound:rejected', () => rejected++);
  const started = performance.now();
  for (let i = 0; i < ATTEMPTS; i += 20) {
    const sockets = Array.from({ length: 20 }, () => failedHandshake(host, port));
    await waitFor(() => rejected === i + 20, 10_000, 'each attempt rejected');
    for (const socket of sockets) socket.destroy();
  }

  const elapsedS = (performance.now() - started) / 1000;
  const written = lines.filter((line) => line.event === 'inbound:rejected').length;
  // The burst, plus what the steady rate allows for the seconds the flood took. Before: all 300.
  expect(written).toBeGreaterThanOrEqual(LOG_BURST_LINES);
  expect(written).toBeLessThanOrEqual(LOG_BURST_LINES + Math.ceil(LOG_LINES_PER_SEC * elapsedS));
  expect(elapsedS, 'the flood outran the steady rate (else this proves nothing)').toBeLessThan((ATTEMPTS - LOG_BURST_LINES) / LOG_LINES_PER_SEC);
  await node.stop();
  const summaries = lines.filter((line) => line.event === 'log:suppressed' && line.fields['event'] === 'inbound:rejected');
  const held = summaries.reduce((sum, line) => sum + (line.fields['suppressed'] as number), 0);
  // Nothing unseen: every attempt is either a line or counted in a summary.
  expect(written + held).toBe(ATTEMPTS);
}, 30_000);

it('buckets are per event: a flood of one event does not hold back another, and the level of a summary is its worst line', () => {
  let nowMs = 0;
  const out: Line[] = [];
  const limited = limitPeerDrivenLogs((level, event, fields = {}) => out.push({ level, event, fields }), {
    burstLines: 3, linesPerSec: 1, summaryIntervalMs: 60_000, now: () => nowMs,
  });
  for (let i = 0; i < 10; i++) limited.log(i === 7 ? 'error' : 'info', 'inbound:rejected', { i });
  limited.log('error', 'agent:error', {});
  limited.log('info', 'started', {});
  nowMs += 1000;
  limited.log('info', 'inbound:rejected', { i: 10 });
  limited.stop();
  expect(out.map((line) => line.event)).toEqual([
    'inbound:rejected', 'inbound:rejected', 'inbound:rejected', 'agent:error', 'started', 'inbound:rejected', 'log:suppressed',
  ]);
  expect(out.at(-1)).toEqual({ level: 'error', event: 'log:suppressed', fields: { event: 'inbound:rejected', suppressed: 7, intervalMs: 60_000 } });
});

it('chat messages from many fresh keys write a bounded number of log lines and say how many were held back', async () => {
  // Keys are free and each has its own chat allowance (a burst of 50, then 10 a second): the relay
  // logged each message it took, one 'chat' line at the default level, so k keys set k × 10 lines a second.
  const lines: Line[] = [];
  const node = await startRelay('test-net', lines);
  const KEYS = 6;
  let sent = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: KEYS }, async () => {
    const attacker = await startNode({ channels: [{ id: ChatCh, priority: 1, sendQueueCapacity: 256, recvMessageCapacity: MAX_CHAT_MESSAGE_BYTES }] });
    await attacker.sw.dial(node.sw.addresses[0]!);
    const relay = attacker.sw.peers[0]!;
    for (let i = 0; i < DEFAULT_CHAT_PEER_BURST; i++) {
      const message = encodeChatMessage({ id: crypto.getRandomValues(new Uint8Array(16)), origin: attacker.key.nodeId, name: 'flood', text: `m${i}`, hops: 0 });
      if (await relay.send(ChatCh, message, { timeoutMs: 5000 })) sent++;
    }
  }));
  const ALLOWED = KEYS * DEFAULT_CHAT_PEER_BURST;
  expect(sent).toBe(ALLOWED);
  await waitFor(() => node.chat.stats().delivered >= ALLOWED, 10_000, 'every message within the allowances taken');
  const elapsedS = (performance.now() - started) / 1000;
  const written = lines.filter((line) => line.event === 'chat').length;
  // Before: 300 lines, one per message.
  expect(written).toBeLessThanOrEqual(LOG_BURST_LINES + Math.ceil(LOG_LINES_PER_SEC * elapsedS));
  await node.stop();
  const held = lines
    .filter((line) => line.event === 'log:suppressed' && line.fields['event'] === 'chat')
    .reduce((sum, line) => sum + (line.fields['suppressed'] as number), 0);
  expect(written + held).toBe(node.chat.stats().delivered);
}, 30_000);
