import { afterEach, describe, expect, it } from 'vitest';
import type { ChannelDescriptor } from '../../src/conn/channel-descriptor.js';
import type { MConnectionConfig } from '../../src/conn/config.js';
import type { Agent } from '../../src/switch/agent.js';
import type { Peer } from '../../src/switch/peer.js';
import { startNode, stopAll } from '../helpers/nodes.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Issue 2, end to end: two nodes over real TCP on 127.0.0.1 with the full encrypted stack (secure
 * handshake, NodeInfo, MConnection, Node's native AEAD). While a priority-1 channel saturates the link
 * with 64 KiB messages, small messages on a priority-10 channel must get through quickly, and every
 * message must arrive whole and in order on its channel.
 *
 * What priority can and cannot do over TCP: MConnection chooses the order of the bytes it has not yet
 * handed to the socket. Bytes already in the kernel (the send buffer, and the receiver's receive
 * buffer while its process is busy) go first, whatever their channel. When MConnection itself is the
 * bottleneck (a send rate limit, as CometBFT configures by default) the kernel stays nearly empty and
 * a control message waits for almost nothing. When the receiver is the bottleneck (here both nodes
 * share one thread) a few MB sit in the kernel and put a floor of a few ms under every channel's
 * latency, while the bulk waits for the whole MConnection backlog (up to 1024 × 64 KiB) as well.
 */

const CONTROL = 0x50;
const MEDIUM = 0x51;
const BULK = 0x52;

// Queue capacities are the default 1024 messages, and the bulk channel takes them in bytes too (by
// default a queue holds 1 MiB, 16 of its messages): priority is tested against a deep backlog.
const CHANNELS: ChannelDescriptor[] = [
  { id: CONTROL, priority: 10, name: 'control', recvMessageCapacity: 1024 },
  { id: MEDIUM, priority: 5, name: 'medium', recvMessageCapacity: 16 * 1024 },
  { id: BULK, priority: 1, name: 'bulk', recvMessageCapacity: 64 * 1024, sendQueueCapacityBytes: 1024 * 64 * 1024 },
];
const SIZES = { [CONTROL]: 64, [MEDIUM]: 4 * 1024, [BULK]: 64 * 1024 } as const;
type ChannelId = keyof typeof SIZES;

/** [u32 sequence][a fill byte derived from channel and sequence]: checkable on arrival with one memcmp. */
function message(channelId: ChannelId, seq: number): Uint8Array {
  const out = Buffer.alloc(SIZES[channelId], (seq * 7 + channelId) & 0xff);
  out.writeUInt32BE(seq, 0);
  return out;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

interface ChannelLog {
  sentAtMs: number[];
  arrivedAtMs: number[];
  outOfOrder: number;
  corrupt: number;
}

/** Records, per channel, when each message arrived and whether it was the expected next one, intact. */
class TimingAgent implements Agent {
  readonly channels = CHANNELS;
  readonly logs = new Map<number, ChannelLog>(CHANNELS.map((c) => [c.id, { sentAtMs: [], arrivedAtMs: [], outOfOrder: 0, corrupt: 0 }]));
  /** Called after each bulk message arrives: paces the sender's small messages by the bulk's progress. */
  onBulk: () => void = () => undefined;

  receive(channelId: number, _peer: Peer, received: Uint8Array): void {
    const now = performance.now();
    const log = this.logs.get(channelId)!;
    const expected = log.arrivedAtMs.length;
    const bytes = Buffer.from(received.buffer, received.byteOffset, received.byteLength);
    if (bytes.length < 4 || bytes.readUInt32BE(0) !== expected) log.outOfOrder += 1;
    else if (!bytes.equals(message(channelId as ChannelId, expected))) log.corrupt += 1;
    log.arrivedAtMs.push(now);
    if (channelId === BULK) this.onBulk();
  }
}

interface Scenario {
  bulk: number;
  control: number;
  medium: number;
  connection?: Partial<MConnectionConfig>;
}

interface Outcome {
  controlMedianMs: number;
  mediumMedianMs: number;
  bulkMedianMs: number;
  bulkMBps: number;
}

/**
 * Sends `bulk` 64 KiB messages with `await peer.send()` as fast as the API takes them (the queue holds
 * up to 1024: a deep backlog). Meanwhile, each time a bulk message arrives at the receiver, the sender
 * sends its share of the control and medium messages: small messages keep coming for as long as the
 * bulk saturates the link, each one queued behind the whole remaining bulk backlog.
 */
async function run(scenario: Scenario): Promise<Outcome> {
  const receiver = new TimingAgent();
  const connection = scenario.connection ?? {};
  const a = await startNode({ channels: CHANNELS, connection });
  // b's channels belong to the timing agent (its built-in recorder gets none).
  const b = await startNode({ channels: [], agents: { timing: receiver }, connection });
  const peer = await a.sw.dial(b.address);
  const logs = receiver.logs;

  let controlSeq = 0;
  let mediumSeq = 0;
  let bulkArrived = 0;
  const waits: Promise<void>[] = [];
  const sendSmall = (channelId: typeof CONTROL | typeof MEDIUM, seq: number): void => {
    logs.get(channelId)!.sentAtMs.push(performance.now());
    const body = message(channelId, seq);
    // The normal API: trySend, falling back to a (bounded) wait when the queue is full.
    if (!peer.trySend(channelId, body)) waits.push(peer.send(channelId, body).then((ok) => expect(ok).toBe(true)));
  };
  receiver.onBulk = () => {
    bulkArrived += 1;
    const controlTarget = Math.round((bulkArrived * scenario.control) / scenario.bulk);
    const mediumTarget = Math.round((bulkArrived * scenario.medium) / scenario.bulk);
    while (controlSeq < controlTarget) sendSmall(CONTROL, controlSeq++);
    while (mediumSeq < mediumTarget) sendSmall(MEDIUM, mediumSeq++);
  };
  const started = performance.now();
  for (let seq = 0; seq < scenario.bulk; seq++) {
    logs.get(BULK)!.sentAtMs.push(performance.now());
    // Resolves at once while the bulk queue has room, later each time a bulk message leaves it.
    expect(await peer.send(BULK, message(BULK, seq))).toBe(true);
  }
  const total = scenario.bulk + scenario.control + scenario.medium;
  const arrived = (): number => [...logs.values()].reduce((sum, log) => sum + log.arrivedAtMs.length, 0);
  await waitFor(() => arrived() === total, 30_000, `all ${total} messages`);
  await Promise.all(waits);
  const elapsedMs = performance.now() - started;

  const latencies = new Map<number, number[]>();
  for (const [channelId, log] of logs) {
    const name = `channel 0x${channelId.toString(16)}`;
    expect(log.arrivedAtMs, `${name} count`).toHaveLength(log.sentAtMs.length);
    expect(log.outOfOrder, `${name} order`).toBe(0);
    expect(log.corrupt, `${name} content`).toBe(0);
    latencies.set(channelId, log.arrivedAtMs.map((at, i) => at - log.sentAtMs[i]!));
  }
  expect(logs.get(CONTROL)!.arrivedAtMs).toHaveLength(scenario.control);
  expect(logs.get(MEDIUM)!.arrivedAtMs).toHaveLength(scenario.medium);
  expect(logs.get(BULK)!.arrivedAtMs).toHaveLength(scenario.bulk);
  const outcome: Outcome = {
    controlMedianMs: median(latencies.get(CONTROL)!),
    mediumMedianMs: median(latencies.get(MEDIUM)!),
    bulkMedianMs: median(latencies.get(BULK)!),
    bulkMBps: (scenario.bulk * SIZES[BULK]) / 1e6 / (elapsedMs / 1000),
  };
  console.info(
    `priority latency (${connection.sendRateBytesPerSec ? `${connection.sendRateBytesPerSec / 1e6} MB/s limit` : 'unlimited'}): ` +
      `control p50 ${outcome.controlMedianMs.toFixed(2)} ms, medium p50 ${outcome.mediumMedianMs.toFixed(2)} ms, ` +
      `bulk p50 ${outcome.bulkMedianMs.toFixed(2)} ms; bulk ${outcome.bulkMBps.toFixed(0)} MB/s, ${total} messages in ${elapsedMs.toFixed(0)} ms`,
  );
  await stopAll();
  return outcome;
}

afterEach(stopAll);

describe('priority latency over encrypted TCP', () => {
  it('keeps the priority-10 channel fast while a priority-1 channel saturates a rate-limited link (10,000 messages, in order)', async () => {
    // MConnection is the bottleneck here (as with CometBFT's default send rate), so the kernel's
    // buffers stay nearly empty and priority decides nearly everything.
    const outcome = await run({ bulk: 1000, control: 6000, medium: 3000, connection: { sendRateBytesPerSec: 48 * 1e6 } });
    // Orders of magnitude against the bulk channel in the same run, not milliseconds: absolute times
    // follow the machine's load.
    expect(outcome.controlMedianMs * 10).toBeLessThan(outcome.bulkMedianMs);
    expect(outcome.mediumMedianMs * 10).toBeLessThan(outcome.bulkMedianMs);
  }, 30_000);

  it('keeps the priority-10 channel fast on an unlimited link too, above the floor set by kernel buffers (10,000 messages, in order)', async () => {
    const outcome = await run({ bulk: 2000, control: 5000, medium: 3000 });
    expect(outcome.controlMedianMs * 10).toBeLessThan(outcome.bulkMedianMs);
  }, 30_000);
});
