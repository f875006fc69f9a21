import { afterEach, describe, expect, it } from 'vitest';
import type { Peer } from '../../src/switch/peer.js';
import { Switch } from '../../src/switch/switch.js';
import { generateNodeKey } from '../../src/crypto/keys.js';
import { systemClock } from '../../src/util/clock.js';
import { MemoryNetwork } from '../../src/transport/memory.js';
import {
  SIGNAL_ANNOUNCED_MAX_FACTOR,
  SIGNAL_ANNOUNCED_MIN_BURST,
  SIGNAL_ANNOUNCED_MIN_PER_SECOND,
  SIGNAL_BURST_MESSAGES,
  SIGNAL_CHANNEL_ID,
  SIGNAL_RATE_PER_SECOND,
  SIGNAL_SEND_MAX_WAIT_MS,
  SIGNAL_SEND_PACE_SHARE,
} from '../../src/webrtc/constants.js';
import { MAX_ANNOUNCED_MESSAGE_RATE } from '../../src/switch/node-info.js';
import { SignalAgent } from '../../src/webrtc/signal-agent.js';
import { signalLimitsOf } from '../../src/webrtc/signal-limits.js';
import type { SignalData } from '../../src/webrtc/signal-messages.js';
import { waitFor } from '../helpers/wait.js';
import { node, OFFER, stopNodes } from './signalling-scene.js';

/**
 * Each node announces its signalling limits (NodeInfo) and every node paces what it sends a peer, its
 * own signals and those it forwards, to what that peer announced, bounded. Memory links for the rules,
 * real TCP for eight answers at once.
 */
afterEach(stopNodes);

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const CANDIDATE: SignalData = { type: 'candidate', candidate: { candidate: 'candidate:0 1 udp 2122260223 192.0.2.1 50000 typ host', sdpMLineIndex: 0, sdpMid: '0' } };
/** One answer as Node's wrtc sends it: an SDP and 13 trickled candidates. */
const SIGNALS_PER_ANSWER = 14;

/** Why each peer left `sw` (an error's code, or 'clean'). */
function cuts(sw: Switch): Map<string, string> {
  const reasons = new Map<string, string>();
  sw.on('peer:disconnected', ({ peer, reason }) => void reasons.set(peer.id, (reason as { code?: string } | undefined)?.code ?? 'clean'));
  return reasons;
}

/** A SignalAgent that announces `perSecond`/`burst` but takes what the defaults take: a peer whose word is a sliver. */
function announcing(perSecond: number, burst: number, options: ConstructorParameters<typeof SignalAgent>[0] = {}): SignalAgent {
  const agent = new SignalAgent(options);
  Object.assign(agent, { channels: [{ ...agent.channels[0]!, recvMessagesPerSecond: perSecond, recvMessageBurst: burst }] });
  return agent;
}

function peerAnnouncing(rate: { perSecond: number; burst: number } | undefined): Peer {
  return { announcedRate: () => rate } as unknown as Peer;
}

describe('announced signalling limits', () => {
  it('a node announces its signalling limits in its NodeInfo; a node without signalling announces none', async () => {
    const network = new MemoryNetwork();
    const low = await node(network, 'low', new SignalAgent({ ratePerSecond: 4, burstMessages: 30 }));
    const plain = await node(network, 'plain', new SignalAgent());
    const peer = await plain.dial(low.addresses[0]!);
    expect(peer.announcedRate(SIGNAL_CHANNEL_ID)).toEqual({ perSecond: 4, burst: 30 });
    expect(peer.announcedRate(0x00), 'a channel it does not declare').toBeUndefined();
    expect(low.getPeer(plain.nodeId)!.announcedRate(SIGNAL_CHANNEL_ID)).toEqual({ perSecond: SIGNAL_RATE_PER_SECOND, burst: SIGNAL_BURST_MESSAGES });
  });

  it('refuses to announce limits that are no numbers of messages: ConfigError at start', async () => {
    await expect(node(new MemoryNetwork(), 'bad', new SignalAgent({ ratePerSecond: -1 }))).rejects.toMatchObject({ code: 'ERR_INVALID_CONFIG' });
    await expect(node(new MemoryNetwork(), 'nan', new SignalAgent({ burstMessages: Number.NaN }))).rejects.toMatchObject({ code: 'ERR_INVALID_CONFIG' });
  });

  it('bounds what a peer announced: a floor, a ceiling, and the defaults (or ours, if lower) for a peer that announced nothing', () => {
    const ours = { perSecond: SIGNAL_RATE_PER_SECOND, burst: SIGNAL_BURST_MESSAGES };
    expect(signalLimitsOf(peerAnnouncing(undefined), ours)).toEqual(ours);
    expect(signalLimitsOf(peerAnnouncing(undefined), { perSecond: 5, burst: 200 }), 'ours where lower').toEqual({ perSecond: 5, burst: SIGNAL_BURST_MESSAGES });
    expect(signalLimitsOf(peerAnnouncing({ perSecond: 4, burst: 30.9 }), ours)).toEqual({ perSecond: 4, burst: 30 });
    const floor = { perSecond: SIGNAL_ANNOUNCED_MIN_PER_SECOND, burst: SIGNAL_ANNOUNCED_MIN_BURST };
    expect(signalLimitsOf(peerAnnouncing({ perSecond: 1e-9, burst: 0.5 }), ours), 'a sliver').toEqual(floor);
    expect(signalLimitsOf(peerAnnouncing({ perSecond: Number.NaN, burst: Number.NaN }), ours), 'NaN').toEqual(floor);
    expect(signalLimitsOf(peerAnnouncing({ perSecond: 1e6, burst: Infinity }), ours), 'a ceiling').toEqual({
      perSecond: SIGNAL_ANNOUNCED_MAX_FACTOR * SIGNAL_RATE_PER_SECOND,
      burst: SIGNAL_ANNOUNCED_MAX_FACTOR * SIGNAL_BURST_MESSAGES,
    });
  });

  it('paces what it originates to a peer with lower limits to 3/4 of them: 40 signals at once reach it and it keeps us (before: 40 at once, ERR_RATE_LIMIT past its burst of 30)', async () => {
    const network = new MemoryNetwork();
    let heard = 0;
    const low = await node(network, 'low', new SignalAgent({ burstMessages: 30, onSignal: () => void heard++ }));
    const sender = new SignalAgent();
    const honest = await node(network, 'honest', sender);
    const left = cuts(low);
    await honest.dial(low.addresses[0]!);
    for (let i = 0; i < 40; i++) expect(sender.sendSignal(low.nodeId, low.nodeId, CANDIDATE)).toBe(true);
    await waitFor(() => heard >= 40 || left.size > 0, 4000, 'the 40 signals');
    expect([...left.values()], 'low keeps the honest sender').toEqual([]);
    expect(heard).toBe(40);
  });

  it('forwards to a peer it dialled at 3/4 of ten times what it announced, each sender 3/4 of what it announced: of eight late answers (112 signals) past its relayed allowance of 100 (10 a second), 7 of each are forwarded and the rest dropped at the relay, which it keeps (before: all forwarded, ERR_RATE_LIMIT)', async () => {
    const network = new MemoryNetwork();
    const relayAgent = new SignalAgent();
    const relay = await node(network, 'relay', relayAgent);
    const xAgent = new SignalAgent({ burstMessages: 10, ratePerSecond: 1 });
    const x = await node(network, 'x', xAgent);
    const left = cuts(x);
    await relay.dial(x.addresses[0]!); // to x, the relay is no relay it chose: past its relayed allowance it cuts it
    const remotes = await Promise.all(Array.from({ length: 8 }, async (_, i) => {
      const agent = new SignalAgent();
      const sw = await node(network, `remote-${i}`, agent);
      await sw.dial(relay.addresses[0]!);
      return { sw, agent };
    }));
    // x offers to each through the relay; they answer at once (their negotiations at x over: late answers).
    for (const { sw } of remotes) expect(xAgent.sendSignal(relay.nodeId, sw.nodeId, OFFER)).toBe(true);
    await waitFor(() => relayAgent.stats.relayed >= remotes.length, 3000, 'the offers relayed');
    for (const { sw, agent } of remotes) {
      for (let i = 0; i < SIGNALS_PER_ANSWER; i++) agent.sendSignal(relay.nodeId, x.nodeId, i === 0 ? { type: 'answer', sdp: 'v=0 answer' } : CANDIDATE);
      expect(sw.getPeer(relay.nodeId)).toBeDefined();
    }
    const total = remotes.length * SIGNALS_PER_ANSWER;
    await waitFor(() => relayAgent.stats.relayed + relayAgent.stats.unreachable >= remotes.length + total || left.size > 0, 3000, 'the answers handled');
    await sleep(200);
    expect([...left.values()], 'x keeps the relay').toEqual([]);
    const share = Math.floor(SIGNAL_SEND_PACE_SHARE * 10);
    expect(relayAgent.stats.relayed - remotes.length, 'forwarded to x: each sender\'s share (refilled a little)').toBeGreaterThanOrEqual(remotes.length * share);
    expect(relayAgent.stats.relayed - remotes.length, 'within its relayed pace').toBeLessThanOrEqual(SIGNAL_SEND_PACE_SHARE * 10 * 10);
    expect(relayAgent.stats.paced, 'the rest dropped at the relay, each sender told unreachable').toBe(total - (relayAgent.stats.relayed - remotes.length));
  });

  it('a forward step of our wall clock does not refill our pace toward a peer: a second burst right after it waits (before: sent at once, ERR_RATE_LIMIT past its burst of 30)', async () => {
    const network = new MemoryNetwork();
    let heard = 0;
    const low = await node(network, 'low', new SignalAgent({ burstMessages: 30, onSignal: () => void heard++ }));
    let wall = Date.now();
    const sender = new SignalAgent();
    // Only the wall clock steps (NTP, a VM catching up); timers and monotonic time do not.
    const sw = new Switch({
      identity: generateNodeKey(),
      network: 'signal-rules',
      transports: [network.transport()],
      listen: ['memory://stepping'],
      clock: { ...systemClock, now: () => wall },
    });
    sw.addAgent('signal', sender);
    await sw.start();
    const left = cuts(low);
    try {
      await sw.dial(low.addresses[0]!);
      const burst = Math.floor(SIGNAL_SEND_PACE_SHARE * 30);
      for (let i = 0; i < burst; i++) expect(sender.sendSignal(low.nodeId, low.nodeId, CANDIDATE)).toBe(true);
      await waitFor(() => heard >= burst, 2000, 'the first burst');
      wall += 3_600_000;
      for (let i = 0; i < burst; i++) expect(sender.sendSignal(low.nodeId, low.nodeId, CANDIDATE)).toBe(true);
      await sleep(200);
      expect([...left.values()], 'low keeps the sender').toEqual([]);
      expect(heard, 'the second burst waits for the pace').toBeLessThan(2 * burst);
    } finally {
      await sw.stop();
    }
  });

  it('a peer announcing a sliver gets our signals at the floor: few wait for it, the rest are refused at once, and our signals to another peer are not held up (before: 75 at once and 25 waiting)', async () => {
    const network = new MemoryNetwork();
    let slowHeard = 0;
    let otherHeard = 0;
    const slow = await node(network, 'slow', announcing(1e-4, 0.5, { onSignal: () => void slowHeard++ }));
    const other = await node(network, 'other', new SignalAgent({ onSignal: () => void otherHeard++ }));
    const sender = new SignalAgent();
    const sw = await node(network, 'sender', sender);
    await sw.dial(slow.addresses[0]!);
    await sw.dial(other.addresses[0]!);
    let taken = 0;
    for (let i = 0; i < 100; i++) if (sender.sendSignal(slow.nodeId, slow.nodeId, CANDIDATE)) taken++;
    for (let i = 0; i < 40; i++) expect(sender.sendSignal(other.nodeId, other.nodeId, CANDIDATE)).toBe(true);
    const burst = Math.floor(SIGNAL_SEND_PACE_SHARE * SIGNAL_ANNOUNCED_MIN_BURST);
    const waiting = Math.max(burst, Math.floor((SIGNAL_SEND_PACE_SHARE * SIGNAL_ANNOUNCED_MIN_PER_SECOND * SIGNAL_SEND_MAX_WAIT_MS) / 1000));
    expect(taken, 'sent at once and waiting: what the floor pace sends within a negotiation\'s life').toBe(burst + waiting);
    await waitFor(() => otherHeard >= 40, 2000, 'the other peer\'s 40 signals');
    await sleep(300);
    expect(slowHeard, 'the slow peer got its burst, and what refilled since').toBeLessThanOrEqual(burst + 1);
    expect(slowHeard).toBeGreaterThanOrEqual(burst);
  });
});

describe('announced signalling limits over TCP', () => {
  it('a node configured past what a NodeInfo may announce (2e6 a second, burst 5e6) announces the cap and connects (before: every handshake failed, ours and theirs)', async () => {
    const generous = await node('tcp', 'generous', new SignalAgent({ ratePerSecond: 2e6, burstMessages: 5e6 }));
    const plain = await node('tcp', 'plain', new SignalAgent());
    const peer = await plain.dial(generous.addresses[0]!);
    expect(peer.announcedRate(SIGNAL_CHANNEL_ID)).toEqual({ perSecond: MAX_ANNOUNCED_MESSAGE_RATE, burst: MAX_ANNOUNCED_MESSAGE_RATE });
    expect((await generous.dial(plain.addresses[0]!)).id, 'and dials').toBe(plain.nodeId);
  });

  it('a relay configured with a lower burst (60) keeps an honest neighbour answering eight offers through it at once: 112 signals at its pace (before: 75 at once, ERR_RATE_LIMIT)', async () => {
    const relay = await node('tcp', 'relay', new SignalAgent({ burstMessages: 60 }));
    const neighbourAgent = new SignalAgent();
    const neighbour = await node('tcp', 'neighbour', neighbourAgent);
    const left = cuts(relay);
    await neighbour.dial(relay.addresses[0]!);
    const heard: number[] = [];
    const senders = await Promise.all(Array.from({ length: 8 }, async (_, index) => {
      heard[index] = 0;
      const sw = await node('tcp', `sender-${index}`, new SignalAgent({ relay: false, onSignal: () => void heard[index]!++ }));
      await sw.dial(relay.addresses[0]!);
      return sw;
    }));
    // The neighbour answers each sender's offer: an SDP and 13 candidates each, through the relay.
    for (const sender of senders) {
      for (let i = 0; i < SIGNALS_PER_ANSWER; i++) expect(neighbourAgent.sendSignal(relay.nodeId, sender.nodeId, i === 0 ? { type: 'answer', sdp: 'v=0 answer' } : CANDIDATE)).toBe(true);
    }
    const expected = senders.length * SIGNALS_PER_ANSWER;
    await waitFor(() => heard.reduce((sum, n) => sum + n, 0) >= expected || left.size > 0, 8000, 'every answer and candidate relayed');
    expect([...left.values()], 'the relay keeps the neighbour').toEqual([]);
    expect(heard.reduce((sum, n) => sum + n, 0)).toBe(expected);
  });
});
