/**
 * Issue 8, after the handshake: an authenticated attacker that never reads, or that floods every
 * channel, or that fills a pull-style inbox the app does not read. The victim's memory stays bounded
 * by its queues and inbox capacity, honest peers keep exchanging, and rule-breakers are cut off.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { PEX_CHANNEL_ID } from '../../src/pex/constants.js';
import { SIGNAL_BURST_MESSAGES, SIGNAL_CHANNEL_ID, SIGNAL_RATE_PER_SECOND } from '../../src/webrtc/constants.js';
import { encodeMessage } from '../../src/wire/codec.js';
import { waitFor } from '../helpers/wait.js';
import {
  APP_CH,
  connectAttacker,
  expectCutOff,
  finishScene,
  PULL_A,
  PULL_B,
  sleep,
  startScene,
  stopHostileNodes,
  VICTIM_INBOX_CAPACITY,
  type Attacker,
} from './harness.js';

afterEach(stopHostileNodes);

/** Victim keep-alive shortened so that a peer that stops reading is found out within seconds. */
const PING_INTERVAL_MS = 3000;
const PONG_TIMEOUT_MS = 2000;
/** Largest plaintext a peer's batch (one sealed frame) holds. */
const FRAME_BYTES = 64 * 1024;

/**
 * Queues `message` on each channel, `burst` at a time per channel, as fast as the attacker's queues
 * take it, for `durationMs`. Returns how many were queued per channel.
 */
async function flood(
  attacker: Attacker,
  channels: readonly number[],
  message: (channelId: number, n: number) => Uint8Array,
  durationMs: number,
  burst = 64,
): Promise<Map<number, number>> {
  const queued = new Map(channels.map((id) => [id, 0]));
  const deadline = Date.now() + durationMs;
  while (Date.now() < deadline && attacker.peer.isConnected) {
    for (const id of channels) {
      for (let i = 0; i < burst; i++) {
        if (!attacker.peer.trySend(id, message(id, queued.get(id)!))) break;
        queued.set(id, queued.get(id)! + 1);
      }
    }
    await sleep(1);
  }
  return queued;
}

describe('after the handshake: a peer that never reads', () => {
  it("fails only the victim's sends to it, keeps memory to its send queue, and is cut off by the keep-alive (ERR_PONG_TIMEOUT)", async () => {
    const scene = await startScene({ switchOptions: { connection: { pingIntervalMs: PING_INTERVAL_MS, pongTimeoutMs: PONG_TIMEOUT_MS } } });
    const { victim, honest } = scene;
    const attacker = await connectAttacker(victim);
    const since = Date.now();
    attacker.peer.connection.pause(); // the attacker's socket is never read again

    // The victim's app sends 16 KiB messages to it until its sends back up and time out.
    const message = encodeMessage({ k: 'bulk', body: new Uint8Array(16 * 1024) });
    let timedOut = 0;
    while (timedOut < 3 && Date.now() - since < PING_INTERVAL_MS + PONG_TIMEOUT_MS - 500) {
      const peer = attacker.onVictim();
      if (peer === undefined) break;
      const started = Date.now();
      if (!(await peer.send(APP_CH, message, { timeoutMs: 100 }))) timedOut++;
      expect(Date.now() - started, 'a send to the non-reader waits at most its timeout').toBeLessThan(1000);
    }
    expect(timedOut, "the victim's sends to the non-reader time out").toBe(3);
    // A broadcast costs the stuck peer its timeout and nothing else: the honest peers' copies are queued.
    const started = Date.now();
    const result = await victim.sw.broadcast(APP_CH, message, { timeoutMs: 300 });
    expect(Date.now() - started).toBeLessThan(1500);
    expect(result.get(attacker.id)).toBe(false);
    for (const h of honest) expect(result.get(h.id), 'honest peer in the broadcast').toBe(true);

    const stuck = attacker.onVictim()?.status();
    if (stuck !== undefined) {
      const app = stuck.channels.find((c) => c.id === APP_CH)!;
      expect(app.sendQueueLength).toBeLessThanOrEqual(app.sendQueueCapacity);
      // What the victim holds for it: the queue plus at most a couple of batches in the link.
      expect(stuck.linkBufferedBytes).toBeLessThan(512 * 1024);
    }
    await scene.pump.expectFlowing(10, 2000);
    const { error } = await expectCutOff(victim, attacker, 'ERR_PONG_TIMEOUT', PING_INTERVAL_MS + PONG_TIMEOUT_MS + 1500, since);
    expect(error.name).toBe('TimeoutError');
    await finishScene(scene);
  });
});

describe('after the handshake: a peer that never reads but sends pongs blindly', () => {
  it('is cut off (ERR_PONG_TIMEOUT) once nothing it was sent has left for the keep-alive horizon, though its pongs keep coming', async () => {
    const scene = await startScene({ switchOptions: { connection: { pingIntervalMs: PING_INTERVAL_MS, pongTimeoutMs: PONG_TIMEOUT_MS } } });
    const { victim } = scene;
    const attacker = await connectAttacker(victim);
    const since = Date.now();
    attacker.peer.connection.pause(); // never reads the victim's pings...
    // ...but answers them anyway: a pong packet every 200 ms, whether or not a ping came.
    const blindPong = setInterval(() => (attacker.peer.connection as unknown as { pingReceived(): void }).pingReceived(), 200);
    try {
      const message = encodeMessage({ k: 'bulk', body: new Uint8Array(16 * 1024) });
      // Enough for the victim's writes to it to back up (kernel buffers included).
      for (let i = 0; i < 400 && attacker.onVictim() !== undefined; i++) await attacker.onVictim()!.send(APP_CH, message, { timeoutMs: 20 });
      const horizonMs = 2 * PING_INTERVAL_MS + PONG_TIMEOUT_MS;
      const { error } = await expectCutOff(victim, attacker, 'ERR_PONG_TIMEOUT', horizonMs + 3000, since);
      expect(error.name).toBe('TimeoutError');
    } finally {
      clearInterval(blindPong);
    }
    await finishScene(scene);
  });
});

describe('after the handshake: floods', () => {
  it('a flood of valid messages on every app channel leaves honest traffic flowing and memory bounded', async () => {
    const scene = await startScene();
    const { victim } = scene;
    const attacker = await connectAttacker(victim);
    const body = new Uint8Array(512);
    const channels = [APP_CH, PULL_A, PULL_B];
    let maxUnread = 0;
    const sampler = setInterval(() => (maxUnread = Math.max(maxUnread, victim.unread(PULL_A), victim.unread(PULL_B))), 20);
    const flowing = scene.pump.expectFlowing(50, 3000);
    const queued = await flood(attacker, channels, (channelId, n) => encodeMessage({ k: 'flood', channelId, n, body }), 1500);
    await flowing;
    clearInterval(sampler);
    for (const id of channels) expect(queued.get(id)!, `flooded 0x${id.toString(16)}`).toBeGreaterThan(100);
    // Valid traffic is not misbehaviour: the flooder stays, throttled by backpressure.
    expect(attacker.onVictim()?.isConnected).toBe(true);
    expect(maxUnread, 'pull inboxes stay near their capacity').toBeLessThan(VICTIM_INBOX_CAPACITY + (2 * FRAME_BYTES) / body.length);
    // The flooder stays connected: its own queues (same process, 3 × 4096 messages) count here too.
    await finishScene(scene, 30);
  });

  it('a flood on every channel, PEX and signalling included, cuts the flooder off at the first rule it breaks (ERR_PEX_REQUEST_TOO_SOON)', async () => {
    const scene = await startScene();
    const { victim } = scene;
    const attacker = await connectAttacker(victim);
    const pexRequest = encodeMessage({ type: 'pexRequest' });
    const signal = encodeMessage({
      type: 'signal',
      from: attacker.id,
      to: scene.honest[0].id,
      data: { type: 'candidate', candidate: { candidate: 'candidate:0 1 UDP 1 127.0.0.1 9 typ host' } },
    });
    const app = encodeMessage({ k: 'flood' });
    const since = Date.now();
    const send = (channelId: number): Uint8Array => (channelId === PEX_CHANNEL_ID ? pexRequest : channelId === SIGNAL_CHANNEL_ID ? signal : app);
    await flood(attacker, [PEX_CHANNEL_ID, SIGNAL_CHANNEL_ID, APP_CH, PULL_A, PULL_B], send, 1500);
    const { elapsedMs } = await expectCutOff(victim, attacker, 'ERR_PEX_REQUEST_TOO_SOON', 3000, since);
    expect(victim.sw.bans.isBanned(attacker.id)).toBe(true);
    // The flooder's signals toward an honest node were never relayed beyond the rate limit.
    expect(scene.honest[0].signal.stats.delivered).toBeLessThanOrEqual(SIGNAL_BURST_MESSAGES + Math.ceil((SIGNAL_RATE_PER_SECOND * elapsedMs) / 1000));
    await finishScene(scene);
  });
});

describe('after the handshake: pull-style inbox bypass', () => {
  it('an inbox the app does not read stays near its capacity while the app reads another pull channel', async () => {
    const scene = await startScene({ readPullB: false, pullReadBatch: 16 });
    const { victim } = scene;
    const attacker = await connectAttacker(victim);
    const body = new Uint8Array(200);
    const wireBytes = encodeMessage({ k: 'flood', n: 0, body }).length + 4;
    let maxUnreadB = 0;
    const sampler = setInterval(() => (maxUnreadB = Math.max(maxUnreadB, victim.unread(PULL_B))), 10);
    // Bursts big enough that one frame fills both inboxes past capacity: both pause the attacker, and
    // the app's reading of PULL_A must not release the hold of the unread PULL_B.
    await flood(attacker, [PULL_A, PULL_B], (_channelId, n) => encodeMessage({ k: 'flood', n, body }), 2000, 256);
    await sleep(200);
    clearInterval(sampler);
    maxUnreadB = Math.max(maxUnreadB, victim.unread(PULL_B));
    // Capacity, plus what was already decoded from the frame in hand when the sender was paused.
    const bound = VICTIM_INBOX_CAPACITY + Math.ceil((2 * FRAME_BYTES) / wireBytes);
    expect(maxUnreadB, `unread PULL_B messages (capacity ${VICTIM_INBOX_CAPACITY}, bound ${bound})`).toBeLessThanOrEqual(bound);
    // The app kept reading PULL_A from everyone, honest peers included (verified by the pump).
    expect(victim.read.get(PULL_A)!).toBeGreaterThan(0);
    expect(victim.read.get(PULL_B)).toBe(0);
    await finishScene(scene, 30); // the paused attacker's queued flood is still held on its side
  });
});

describe('after the handshake: an unread inbox filled by ever-new keys', () => {
  it('each new key adds at most its share to a full inbox and leaves it there, and past twice its capacity a sender is cut (ERR_RATE_LIMIT)', async () => {
    const capacity = 4;
    // Frequent pings: the victim, paused, reads nothing from a key that left, and learns of its leaving
    // when a ping's write fails. The pong timeout is also the honest peers' (in this process): at 200 ms
    // a loaded machine's stall cut one.
    const scene = await startScene({ readPullB: false, switchOptions: { inboxCapacity: capacity, connection: { pingIntervalMs: 600, pongTimeoutMs: 550 } } });
    const { victim } = scene;
    const inbox = (victim.sw as unknown as { router: { inboxes: Map<number, { length: number }> } }).router.inboxes.get(PULL_B)!;
    const lengths: number[] = [];
    const cutCodes: (string | undefined)[] = [];
    for (let round = 0; round < 3 * capacity; round++) {
      const attacker = await connectAttacker(victim);
      const since = Date.now();
      // One batch of 2,000 empty messages: a few frames, each holding thousands of packets.
      let queued = 0;
      while (queued < 2000 && attacker.peer.trySend(PULL_B, new Uint8Array(0))) queued++;
      await sleep(150);
      lengths.push(inbox.length);
      const cut = victim.disconnects.find((d) => d.id === attacker.id && d.at >= since - 1);
      cutCodes.push((cut?.reason as { code?: string } | undefined)?.code);
      // The key leaves and its message stays for the readers; the next one is a stranger. (A key that
      // stays connected and paused raises the hard limit by one: the Switch's peer limits bound those.)
      await attacker.sw.stop();
      await waitFor(() => victim.disconnects.some((d) => d.id === attacker.id), 10_000, 'the victim saw the key leave');
    }
    // The first key fills the inbox to capacity and is paused; a later one adds to the full inbox only
    // up to its share of the capacity (among the keys holding messages), and past half again the
    // capacity two (a key holding one message may add the next).
    expect(lengths[0], 'after the first key').toBeLessThanOrEqual(capacity + 1);
    for (let i = 1; i < lengths.length; i++) {
      const share = lengths[i - 1]! * 2 >= 3 * capacity ? 2 : Math.max(2, Math.ceil(capacity / (i + 1)));
      expect(lengths[i]! - lengths[i - 1]!, `messages added by key ${i}`).toBeLessThanOrEqual(share);
    }
    expect(Math.max(...lengths), 'inbox length').toBeLessThanOrEqual(2 * capacity);
    expect(cutCodes.at(-1), 'a sender to a full inbox past its hard limit').toBe('ERR_RATE_LIMIT');
    await finishScene(scene);
  });
});
