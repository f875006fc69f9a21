/**
 * A page answers at most 32 offers at once (16 through the relays of one network, 8 through one relay)
 * and opens at most 32 answering RTCPeerConnections at once, 60 a minute (24 and 16 for one network).
 * Relays of two networks flooding it with offers from made-up senders (answers that never complete) held
 * all 32 slots and spent the whole burst, 16 each, so a third network's relay, and the honest node
 * offering through it, got no answer until those timed out (15 s): the page took no new link meanwhile.
 * Now the burst and rate are split between the relays' networks (the newcomers keep a seat), and when
 * every slot is taken an offer through a network holding at least two fewer pushes out the busiest
 * network's oldest pending answer (its RTCPeerConnection closed).
 *
 * Over TCP, relays the victim (the page) dialled: the flooders on 127.2/16 and 127.5/16, the honest
 * relay on 127.3.0.1 (all of 127/8 is loopback on Linux; the Switch counts each /16 as a network). The
 * first two cases use the harness's stub WebRTC: answering sessions never connect, so each offer answered
 * holds its slot for the accept timeout; a session is one RTCPeerConnection, counted open until
 * destroyed. The last runs @roamhq/wrtc: real offers with no candidates, and an honest node that links.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { BaseAgent } from '../../src/switch/agent.js';
import type { Peer } from '../../src/switch/peer.js';
import { SIGNAL_CHANNEL_ID, WEBRTC_MAX_PENDING_ACCEPTS } from '../../src/webrtc/constants.js';
import { SignalAgent } from '../../src/webrtc/signal-agent.js';
import { encodeSignalMessage, type SignalData } from '../../src/webrtc/signal-messages.js';
import type { WebRtcTransport, WebRtcTransportOptions } from '../../src/webrtc/webrtc-transport.js';
import type { Switch } from '../../src/switch/switch.js';
import { tcpTransport } from '../../platforms/node/tcp.js';
import { webrtcTransport } from '../../platforms/node/webrtc.js';
import { generateNodeKey } from '../../src/crypto/keys.js';
import { startNode, stopAll } from '../helpers/nodes.js';
import { waitFor } from '../helpers/wait.js';
import { sleep, startVictim, stopHostileNodes, type Victim } from './harness.js';
import { recordingConnections, stillTakesHonestPeers, wrtc } from './webrtc-scene.js';

const floods = new Set<ReturnType<typeof setInterval>>();

afterEach(async () => {
  for (const timer of floods) clearInterval(timer);
  floods.clear();
  await stopHostileNodes();
  await stopAll();
});

const FLOOD_NETWORKS = ['127.2.0', '127.5.0'];
const RELAYS_PER_NETWORK = 2;
/** Where the flooding relays listen: two hosts on each of FLOOD_NETWORKS. */
const FLOOD_HOSTS = FLOOD_NETWORKS.flatMap((prefix) => Array.from({ length: RELAYS_PER_NETWORK }, (_, i) => `${prefix}.${i + 1}`));
/** Offers from made-up senders each flooding relay sends every FLOOD_EVERY_MS, from when we connect. */
const OFFERS_PER_ROUND = 8;
const FLOOD_EVERY_MS = 250;
/** Rates a page might raise (a Node peer many pages dial through): then the flooders do hold every slot. */
const RAISED_ANSWER_RATES = { maxNewAnswersPerMinute: 100_000, maxNewAnswersPerMinutePerVia: 100_000, maxNewAnswersPerMinutePerNetwork: 100_000 };

/**
 * A relay that floods every peer that connects with offers from made-up senders until it goes (or, given
 * `claimedSender`, sends one offer that it says that node sent: answered, it holds its slot for the accept
 * timeout; sent again, it would fail the answer as a second description and free the slot, so that what
 * the claims held went by the rounds' phase). It announces the highest
 * signalling limits a peer heeds, so the answers and candidates sent back to it all go at once (none
 * fails waiting for its turn and frees its slot).
 */
class FloodingRelay extends BaseAgent {
  readonly channels = new SignalAgent({ ratePerSecond: 200, burstMessages: 1000 }).channels;
  private readonly timers = new Map<Peer, ReturnType<typeof setInterval>>();
  constructor(
    private readonly offer: SignalData = { type: 'offer', sdp: 'v=0 stub' },
    private readonly claimedSender?: string,
  ) {
    super();
  }
  override addPeer(peer: Peer): void {
    const offer = (from: string): boolean => peer.trySend(SIGNAL_CHANNEL_ID, encodeSignalMessage({ type: 'signal', from, to: peer.id, data: this.offer }));
    if (this.claimedSender !== undefined) {
      offer(this.claimedSender);
      return;
    }
    const round = (): void => {
      for (let i = 0; i < OFFERS_PER_ROUND; i++) offer(randomBytes(20).toString('hex'));
    };
    round();
    const timer = setInterval(round, FLOOD_EVERY_MS);
    floods.add(timer);
    this.timers.set(peer, timer);
  }
  override removePeer(peer: Peer): void {
    clearInterval(this.timers.get(peer));
    this.timers.delete(peer);
  }
  receive(): void {}
}

/** Flooding relays that `victim` dialled, one listening on each of `hosts` (two networks' by default); their ids. */
async function floodingRelays(victim: Switch, offer?: SignalData, network = 'hostile-net', claimedSender?: string, hosts = FLOOD_HOSTS): Promise<string[]> {
  const flooders: string[] = [];
  for (const host of hosts) {
    const relay = await startNode({ network, listen: [`tcp://${host}:0`], agents: { signal: new FloodingRelay(offer, claimedSender) } });
    await victim.dial(relay.sw.addresses[0]!);
    flooders.push(relay.key.nodeId);
  }
  return flooders;
}

/** How many answer slots `flooders` hold at `rtc`. */
function heldBy(rtc: WebRtcTransport, flooders: readonly string[]): number {
  return flooders.reduce((sum, id) => sum + (rtc.pendingAcceptCounts().byVia.get(id) ?? 0), 0);
}

/** A victim (the page, the harness's, stub WebRTC) that dialled flooding relays on two networks. */
async function floodedPage(rtc: VictimRtc = {}): Promise<{ victim: Victim; flooders: string[]; held: () => number }> {
  const victim = await startVictim({ webrtc: 'stub', rtc });
  const flooders = await floodingRelays(victim.sw);
  return { victim, flooders, held: () => heldBy(victim.rtc, flooders) };
}

type VictimRtc = Omit<WebRtcTransportOptions, 'createPeer'>;

/**
 * An honest relay on 127.3.0.1 that the victim dialled, and an honest node connected to it that offers
 * the victim through it; resolves with what the node heard back from the victim.
 */
async function honestOffer(victim: Victim, identity = generateNodeKey()): Promise<{ relayId: string; heard: SignalData[] }> {
  const relay = await startNode({ network: 'hostile-net', listen: ['tcp://127.3.0.1:0'], agents: { signal: new SignalAgent() } });
  await victim.sw.dial(relay.sw.addresses[0]!);
  const heard: SignalData[] = [];
  const negotiatingWithVictim = (_via: string, from: string): boolean => from === victim.id;
  const agent = new SignalAgent({ relay: false, onSignal: ({ from, data }) => void (from === victim.id && heard.push(data)), isNegotiating: negotiatingWithVictim, inNegotiation: negotiatingWithVictim });
  const honest = await startNode({ identity, network: 'hostile-net', listen: ['tcp://127.4.0.1:0'], agents: { signal: agent } });
  await honest.sw.dial(relay.sw.addresses[0]!);
  expect(agent.sendSignal(relay.key.nodeId, victim.id, { type: 'offer', sdp: 'v=0 honest' }), 'the honest offer sent').toBe(true);
  return { relayId: relay.key.nodeId, heard };
}

/** Every answering RTCPeerConnection still open is a pending answer: those of failed negotiations are closed. */
function expectEveryFailedSessionClosed(victim: Victim): void {
  expect(victim.stubRtc!.openAccepts, 'answering RTCPeerConnections open').toBe(victim.rtc.pendingAcceptCounts().total);
}

describe('relays of two networks flooding a page with offers that never complete', () => {
  it("leave a third network's honest relay an answer at once: the answer allowance is shared between networks", async () => {
    const { victim, held } = await floodedPage();
    await waitFor(() => held() >= 16, 5000, 'flood offers answered');
    await sleep(1_500);
    const floodHeld = held();
    const { relayId, heard } = await honestOffer(victim);
    await waitFor(() => heard.some((data) => data.type === 'answer'), 3000, "the victim's answer to the honest offer").catch(() => undefined);
    const created = victim.stubRtc!.created.filter((session) => !session.initiator).length;
    console.log(`flooders (two /16s) held ${floodHeld} of ${WEBRTC_MAX_PENDING_ACCEPTS} answer slots, ${created} answering RTCPeerConnections made; the honest offer answered: ${heard.length > 0}`);
    // Before: 32 of 32 (16 a network, the whole burst), and the honest offer unanswered for 15 s.
    expect(floodHeld).toBeLessThan(WEBRTC_MAX_PENDING_ACCEPTS);
    expect(heard.map((data) => data.type), "the victim's answer reached the honest node").toContain('answer');
    expect(victim.rtc.pendingAcceptCounts().byVia.get(relayId)).toBe(1);
    expectEveryFailedSessionClosed(victim);
  }, 30_000);

  it('that hold every answer slot (a page raising the rates): the busiest network\'s oldest answer gives its slot to the honest offer', async () => {
    const { victim, held, flooders } = await floodedPage(RAISED_ANSWER_RATES);
    await waitFor(() => held() === WEBRTC_MAX_PENDING_ACCEPTS, 5000, 'every answer slot held by the flooders');
    const { relayId, heard } = await honestOffer(victim);
    await waitFor(() => heard.some((data) => data.type === 'answer'), 3000, "the victim's answer to the honest offer").catch(() => undefined);
    // The flood goes on: the slot stays the honest offer's (the flooders' networks hold 16 and 15).
    await sleep(1_000);
    const counts = victim.rtc.pendingAcceptCounts();
    const sessions = victim.stubRtc!.created.filter((session) => !session.initiator);
    console.log(`flooders held ${held()} of ${WEBRTC_MAX_PENDING_ACCEPTS} after the honest offer (${[...counts.byGroup.values()].join(', ')} by network); ${sessions.length} answering RTCPeerConnections made, ${sessions.filter((s) => s.destroyed).length} closed`);
    // Before: 32 of 32 held, the honest offer ignored until they timed out (15 s).
    expect(heard.map((data) => data.type), "the victim's answer reached the honest node").toContain('answer');
    expect(counts.byVia.get(relayId)).toBe(1);
    expect(counts.total).toBe(WEBRTC_MAX_PENDING_ACCEPTS);
    expect([...counts.byGroup.values()].sort((a, b) => a - b)).toEqual([1, 15, 16]);
    expect(sessions.filter((s) => s.destroyed).length, 'the pushed-out answer\'s RTCPeerConnection closed').toBe(1);
    expectEveryFailedSessionClosed(victim);
    expect(flooders.every((id) => victim.sw.getPeer(id)?.isConnected), 'the flooding relays stay connected').toBe(true);
  }, 30_000);

  it("naming an honest node as the sender of every offer leave it its own offer's answer through a third network", async () => {
    const victim = await startVictim({ webrtc: 'stub' });
    const honestKey = generateNodeKey();
    const spoofers = await floodingRelays(victim.sw, undefined, 'hostile-net', honestKey.nodeId);
    await waitFor(() => heldBy(victim.rtc, spoofers) >= 2, 5000, 'the offers naming the honest node answered');
    const { relayId, heard } = await honestOffer(victim, honestKey);
    await waitFor(() => heard.some((data) => data.type === 'answer'), 3000, "the victim's answer to the honest offer").catch(() => undefined);
    const counts = victim.rtc.pendingAcceptCounts();
    console.log(`answers to offers naming the honest node: ${heldBy(victim.rtc, spoofers)} through the spoofing relays, ${counts.byVia.get(relayId) ?? 0} through its own`);
    // Before: no answer: its 2 slots (counted through all relays) held by what the spoofing relays said.
    expect(heard.map((data) => data.type), "the victim's answer reached the honest node").toContain('answer');
    expect(counts.byVia.get(relayId)).toBe(1);
  }, 30_000);

  it("on other hosts of the honest relay's own network, naming an honest node as the sender, leave it its own offer's answer through that relay", async () => {
    const victim = await startVictim({ webrtc: 'stub' });
    const honestKey = generateNodeKey();
    // Three relay keys on two hosts of 127.3/16, where the honest relay is (127.3.0.1): a cloud block, a campus.
    const spoofers = await floodingRelays(victim.sw, undefined, 'hostile-net', honestKey.nodeId, ['127.3.0.2', '127.3.0.2', '127.3.0.3']);
    await waitFor(() => heldBy(victim.rtc, spoofers) >= 2, 5000, 'the offers naming the honest node answered');
    await sleep(500);
    const { relayId, heard } = await honestOffer(victim, honestKey);
    await waitFor(() => heard.some((data) => data.type === 'answer'), 3000, "the victim's answer to the honest offer").catch(() => undefined);
    const counts = victim.rtc.pendingAcceptCounts();
    console.log(`answers to offers naming the honest node: ${heldBy(victim.rtc, spoofers)} through the spoofing relays (3 keys, 2 hosts), ${counts.byVia.get(relayId) ?? 0} through its own`);
    // Before: no answer: its 2 slots, counted through the relays of one network, held by what the
    // relays on 127.3.0.2 said.
    expect(heard.map((data) => data.type), "the victim's answer reached the honest node").toContain('answer');
    expect(counts.byVia.get(relayId)).toBe(1);
    // The two keys of 127.3.0.2 hold 2 between them (a host's relay keys count together), 127.3.0.3 one.
    expect(heldBy(victim.rtc, spoofers)).toBe(3);
    expect(counts.byRemote.get(honestKey.nodeId)).toBe(4);
  }, 30_000);

  it("on two hosts of the honest relay's own network holding all its 16 slots and spending its allowance: the busiest host's oldest gives its slot to the honest relay's offer", async () => {
    const victim = await startVictim({ webrtc: 'stub' });
    // Two relay keys a host on 127.3.0.2 and 127.3.0.3, of the honest relay's /16 (127.3.0.1): a cloud block.
    const flooders = await floodingRelays(victim.sw, undefined, 'hostile-net', undefined, ['127.3.0.2', '127.3.0.2', '127.3.0.3', '127.3.0.3']);
    await waitFor(() => heldBy(victim.rtc, flooders) === 16, 5000, "the network's 16 slots held by the flooders");
    // Their network's burst (16) is spent; its next token comes in 2.5 s (24 a minute), and the flooders'
    // hosts, which took theirs within the minute, leave a network's last token to a host new to it.
    await sleep(3_000);
    const { relayId, heard } = await honestOffer(victim);
    await waitFor(() => heard.some((data) => data.type === 'answer'), 3000, "the victim's answer to the honest offer").catch(() => undefined);
    // The flood goes on: the slot stays the honest relay's (its host holds 1, the flooders' hosts 15).
    await sleep(1_000);
    const counts = victim.rtc.pendingAcceptCounts();
    console.log(`flooders on 2 hosts of 127.3/16 hold ${heldBy(victim.rtc, flooders)} of its 16 slots after the honest offer through a third host of it; answered: ${heard.length > 0}`);
    // Before: no answer: the network's 16 held until they timed out (15 s), then taken again by the flood;
    // with the swap alone, the flooders' hosts swapping among themselves took each token as it came.
    expect(heard.map((data) => data.type), "the victim's answer reached the honest node").toContain('answer');
    expect(counts.byVia.get(relayId)).toBe(1);
    expect(counts.byGroup.get('ipv4:127.3')).toBe(16);
    expect(counts.byHost.get('127.3.0.1')).toBe(1);
    expect(heldBy(victim.rtc, flooders)).toBe(15);
    expectEveryFailedSessionClosed(victim);
  }, 30_000);

  it('that hold every answer slot with real offers that never connect (@roamhq/wrtc): an honest node links through a third network, and every RTCPeerConnection of a failed answer is closed', async () => {
    const honestRelay = await startNode({ listen: ['tcp://127.3.0.1:0'], agents: { signal: new SignalAgent() } });
    const connections: RTCPeerConnection[] = [];
    const key = generateNodeKey();
    const rtc = webrtcTransport({ wrtc: { ...wrtc, RTCPeerConnection: recordingConnections(connections) }, ...RAISED_ANSWER_RATES });
    const victim = await startNode({ identity: key, transports: [tcpTransport(), rtc], listen: ['tcp://127.0.0.1:0', `webrtc://${key.nodeId}`], agents: { signal: rtc.signalAgent } });
    await victim.sw.dial(honestRelay.address);
    // A real data-channel offer with no candidates (none trickled after it): answered, it never connects.
    const pc = new wrtc.RTCPeerConnection();
    pc.createDataChannel('x');
    const offer = await pc.createOffer();
    pc.close();
    const flooders = await floodingRelays(victim.sw, { type: 'offer', sdp: offer.sdp! }, 'test-net');
    await waitFor(() => heldBy(rtc, flooders) === WEBRTC_MAX_PENDING_ACCEPTS, 8000, 'every answer slot held by the flooders');
    // Before: not linked (no answer: every slot held until the accept timeout, 15 s).
    await stillTakesHonestPeers(honestRelay, victim);
    const counts = rtc.pendingAcceptCounts();
    const open = connections.filter((connection) => connection.signalingState !== 'closed').length;
    console.log(`${connections.length} RTCPeerConnections made, ${open} open: ${counts.total} pending answers (${[...counts.byGroup.values()].join(', ')} by network) and the honest link`);
    // The rest, or every slot: once the honest answer connects, its slot is free and the flood may take it back.
    expect([WEBRTC_MAX_PENDING_ACCEPTS - 1, WEBRTC_MAX_PENDING_ACCEPTS], 'the flooders hold the rest').toContain(counts.total);
    expect(open, 'open: the pending answers and the honest link').toBe(counts.total + 1);
  }, 40_000);
});
