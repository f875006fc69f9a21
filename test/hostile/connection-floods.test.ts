/**
 * Issue 8, connection floods: a thousand handshakes that stop after the hello, and five thousand
 * connection attempts against a victim already at maxInbound. The victim refuses the excess (at
 * arrival over its pending caps, at admission over maxInbound, at its deadline when silent), its
 * handshake bookkeeping returns to zero, and the peers it already has keep exchanging throughout.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { generateNodeKey } from '../../src/crypto/keys.js';
import { MeshlinkError, PeerRejectedError, TimeoutError } from '../../src/errors.js';
import { PROTOCOL_VERSION, type NodeInfo } from '../../src/switch/node-info.js';
import { upgradeLink } from '../../src/switch/upgrade.js';
import { nodeChaCha20Poly1305 } from '../../platforms/node/aead.js';
import { tcpTransport } from '../../platforms/node/tcp.js';
import { startNode, stopAll, type TestNode } from '../helpers/nodes.js';
import { waitFor, within } from '../helpers/wait.js';
import { APP_CH, finishScene, stopHostileNodes, type Victim } from './harness.js';
import {
  guardProcessFaults,
  handshakeSlots,
  knock,
  LOOPBACK_ENDPOINT,
  openRaw,
  recordRefusals,
  startLightScene,
  tcpPort,
  validHello,
  type CodedError,
  type RawSocket,
} from './raw-peer.js';

guardProcessFaults();
afterEach(async () => {
  await Promise.all([stopHostileNodes(), stopAll()]);
});

/** Loopback source addresses (all of 127.0.0.0/8 is local on Linux), so floods come from many hosts. */
const hosts = (prefix: string, count: number): string[] => Array.from({ length: count }, (_, i) => `${prefix}.${i + 2}`);

describe('handshakes that stop halfway', () => {
  const HANDSHAKE_TIMEOUT_MS = 1000;
  const PER_HOST = 8;
  const SOURCES = hosts('127.0.0', 25);
  /** Attackers in flight: exactly the victim's pending caps, so none is dropped on arrival. */
  const IN_FLIGHT = SOURCES.length * PER_HOST;
  const TOTAL = 1000;
  /** Timer lateness on two shared, busy cores: a deadline may fire this much late. */
  const LATE_SLACK_MS = 3000;
  /** ~5 s of CPU on two idle cores; the bound leaves room for cores shared with other suites. */
  const FLOOD_BOUND_MS = 80_000;

  it('cuts 1,000 handshakes that send only the hello, each at handshakeTimeoutMs with ERR_TIMEOUT, and frees every pending slot', { timeout: 120_000 }, async () => {
    const scene = await startLightScene({ switchOptions: { handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS, maxPendingInbound: IN_FLIGHT, maxPendingInboundPerHost: PER_HOST } });
    const { victim } = scene;
    const refusals = recordRefusals(victim.sw);
    const countsBefore = victim.sw.peerCounts();
    const port = tcpPort(victim.tcpAddress);
    const hello = validHello();
    // IN_FLIGHT attackers, PER_HOST per source address; each opens its next connection only once the
    // victim has cut the last one, so the victim's per-host and total pending caps are never exceeded.
    let opened = 0;
    const attacker = async (slot: number): Promise<RawSocket[]> => {
      const mine: RawSocket[] = [];
      while (opened < TOTAL) {
        opened++;
        const raw = await openRaw(port, { localAddress: SOURCES[slot % SOURCES.length]! });
        raw.socket.write(hello); // the first handshake message, then silence
        await raw.closed;
        mine.push(raw);
      }
      return mine;
    };
    const raws = (await within(Promise.all(Array.from({ length: IN_FLIGHT }, (_, slot) => attacker(slot))), FLOOD_BOUND_MS, 'the halfway handshakes')).flat();
    expect(raws).toHaveLength(TOTAL);
    let slowestMs = 0;
    for (const raw of raws) {
      // From the victim's hello (its handshake clock starts as it takes the link in) to the cut.
      expect(raw.firstByteAt, 'the victim took every link in (none dropped on arrival) and answered the hello').toBeDefined();
      slowestMs = Math.max(slowestMs, raw.closedAt! - raw.firstByteAt!);
    }
    expect(slowestMs, 'slowest cut after the victim took the link in (ms)').toBeLessThan(HANDSHAKE_TIMEOUT_MS + LATE_SLACK_MS);
    await waitFor(() => refusals.rejected.length >= TOTAL, 5000, 'one inbound:rejected per silent handshake');
    expect(refusals.rejected).toHaveLength(TOTAL);
    for (const { error } of refusals.rejected) {
      expect(error).toBeInstanceOf(TimeoutError);
      expect(error.code).toBe('ERR_TIMEOUT');
    }
    await waitFor(() => handshakeSlots(victim.sw).pending === 0, 5000, 'pending handshakes back to zero');
    expect(handshakeSlots(victim.sw)).toEqual({ pending: 0, pendingHosts: 0, admitted: 0 });
    expect(victim.sw.peerCounts()).toEqual(countsBefore);
    refusals.stop();
    await finishScene(scene, 50);
  });
});

describe('a flood of connection attempts over maxInbound', () => {
  const MAX_INBOUND = 5;
  const AUTHENTICATED = 60;
  const AUTHENTICATED_CONCURRENCY = 6; // from 127.0.0.1, under its per-host pending cap of 8
  const RAW = 5000 - AUTHENTICATED;
  const RAW_WINDOW = 400;
  const PER_HOST = 8;
  const RAW_SOURCES = hosts('127.0.1', 7); // 7 hosts × 8 pending + 6 authenticated ≤ 64 pending in all
  const FLOOD_BOUND_MS = 60_000;

  /** A real handshake with a fresh key: secure link, NodeInfo, then the victim's admission decision. */
  async function authenticatedAttempt(victim: Victim): Promise<CodedError> {
    const key = generateNodeKey();
    const link = await tcpTransport().dial({ ...LOOPBACK_ENDPOINT, port: tcpPort(victim.tcpAddress) });
    const info: NodeInfo = { id: key.nodeId, network: victim.sw.options.network, protocolVersion: PROTOCOL_VERSION, channels: [APP_CH], recvMessageCapacities: [64 * 1024], listenAddresses: [], moniker: '', software: 'flood/1.0.0' };
    return upgradeLink(link, { identity: key, localInfo: info, direction: 'outbound', expectedPeerId: victim.id, timeoutMs: 10_000, aead: nodeChaCha20Poly1305 }).then(
      (upgraded) => {
        upgraded.link.destroy();
        return new Error(`admitted over maxInbound ${MAX_INBOUND}`) as CodedError;
      },
      (error: unknown) => error as CodedError,
    );
  }

  async function pool<T>(total: number, concurrency: number, attempt: (i: number) => Promise<T>): Promise<T[]> {
    const results: T[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < total) results.push(await attempt(next++));
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return results;
  }

  async function joinVictim(victim: Victim): Promise<TestNode> {
    const node = await startNode({ network: victim.sw.options.network, channels: [] });
    await node.sw.dial(victim.tcpAddress);
    await waitFor(() => victim.sw.getPeer(node.sw.nodeId) !== undefined, 3000, 'victim admits the honest node');
    return node;
  }

  it('refuses 5,000 attempts (4,940 dropped on arrival, 60 authenticated with ERR_PEER_LIMIT) and returns to its normal counts, while its peers keep exchanging', { timeout: 90_000 }, async () => {
    // A deadline longer than the flood (however busy the cores), so the silent links squatting the
    // pending slots hold them all along; the 1,000-handshake test above covers the deadline itself.
    const scene = await startLightScene({ switchOptions: { maxInbound: MAX_INBOUND, handshakeTimeoutMs: FLOOD_BOUND_MS + 15_000 } });
    const { victim } = scene;
    const fillers: TestNode[] = [];
    while (victim.sw.peerCounts().inbound < MAX_INBOUND) fillers.push(await joinVictim(victim));
    const countsBefore = victim.sw.peerCounts();
    expect(countsBefore.inbound).toBe(MAX_INBOUND);
    const refusals = recordRefusals(victim.sw);
    const port = tcpPort(victim.tcpAddress);

    // Silent links take every pending slot of the flooding hosts...
    const squatters = await Promise.all(Array.from({ length: RAW_SOURCES.length * PER_HOST }, (_, i) => openRaw(port, { localAddress: RAW_SOURCES[i % RAW_SOURCES.length]! })));
    await waitFor(() => squatters.every((raw) => raw.firstByteAt !== undefined), 10_000, 'victim takes the squatters in');
    expect(handshakeSlots(victim.sw).pending).toBe(squatters.length);
    // ...then those hosts knock 4,940 times while 60 authenticated peers ask to be admitted.
    const started = performance.now();
    const [authenticated, knocks] = await within(
      Promise.all([
        pool(AUTHENTICATED, AUTHENTICATED_CONCURRENCY, () => authenticatedAttempt(victim)),
        pool(RAW, RAW_WINDOW, (i) => knock(port, RAW_SOURCES[i % RAW_SOURCES.length]!)),
      ]),
      FLOOD_BOUND_MS,
      'the flood',
    );
    const floodMs = performance.now() - started;

    for (const error of authenticated) {
      expect(error, error.message).toBeInstanceOf(PeerRejectedError);
      expect(error.code, error.message).toBe('ERR_PEER_LIMIT');
    }
    expect(refusals.rejected.filter((r) => r.error.code === 'ERR_PEER_LIMIT')).toHaveLength(AUTHENTICATED);
    expect(knocks).toHaveLength(RAW);
    expect(knocks.filter((k) => !k.connected), 'attempts that could not connect').toHaveLength(0);
    expect(knocks.filter((k) => k.answered), 'attempts the victim took in over its pending caps').toHaveLength(0);
    expect(squatters.filter((raw) => raw.closedAt !== undefined), 'squatters cut before their deadline').toHaveLength(0);

    // The squatters hang up: their handshakes fail, and every count returns to normal.
    squatters.forEach((raw) => raw.socket.destroy());
    await waitFor(() => handshakeSlots(victim.sw).pending === 0, 5000, 'pending handshakes back to zero');
    expect(handshakeSlots(victim.sw)).toEqual({ pending: 0, pendingHosts: 0, admitted: 0 });
    expect(victim.sw.peerCounts()).toEqual(countsBefore);
    for (const { error } of refusals.rejected) {
      expect(error).toBeInstanceOf(MeshlinkError);
      expect(['ERR_PEER_LIMIT', 'ERR_HANDSHAKE']).toContain(error.code);
    }
    expect(floodMs, 'flood duration (ms)').toBeLessThan(FLOOD_BOUND_MS);

    // No slot leaked: when a filler leaves, a newcomer takes its place, and the limit still holds.
    await fillers[0]!.sw.stop();
    await waitFor(() => victim.sw.peerCounts().inbound === MAX_INBOUND - 1, 3000, 'victim notices the filler left');
    await joinVictim(victim);
    expect(victim.sw.peerCounts().inbound).toBe(MAX_INBOUND);
    const over = await authenticatedAttempt(victim);
    expect(over.code, over.message).toBe('ERR_PEER_LIMIT');
    refusals.stop();
    await finishScene(scene, 50);
  });
});
