/**
 * Signalling messages out of sequence, over real TCP (issue: protocol state and sequence): signals that
 * the victim's WebRTC transport sets aside because of the state it is in (an offer that loses glare to
 * our own dial) and `unreachable` replies to signals we never sent. Each must be counted somewhere:
 * a negotiation's signal cap, or the sender's own signalling allowance; a peer must not be able to
 * send either for ever, at any rate, uncounted.
 */
import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';
import { nodeChaCha20Poly1305 } from '../../platforms/node/aead.js';
import { tcpTransport } from '../../platforms/node/tcp.js';
import { webrtcTransport } from '../../platforms/node/webrtc.js';
import { generateNodeKey, type NodeKey } from '../../src/crypto/keys.js';
import { Switch } from '../../src/switch/switch.js';
import { SIGNAL_BURST_MESSAGES, SIGNAL_CHANNEL_ID, SIGNAL_RATE_PER_SECOND, SIGNAL_RELAYED_ALLOWANCE_FACTOR, WEBRTC_ANSWERS_BURST_PER_VIA, WEBRTC_DIALS_BURST_PER_VIA, WEBRTC_MAX_REMOTE_SIGNALS_PER_NEGOTIATION } from '../../src/webrtc/constants.js';
import { encodeSignalMessage, type SignalData } from '../../src/webrtc/signal-messages.js';
import { waitFor, within } from '../helpers/wait.js';
import { SignalAgent, type IncomingSignal, type SignalAgentOptions } from '../../src/webrtc/signal-agent.js';
import { connectAttacker, expectCutOff, finishScene, sleep, startHonest, stopHostileNodes } from './harness.js';
import { guardProcessFaults, startLightScene } from './raw-peer.js';

afterEach(stopHostileNodes);
guardProcessFaults();

const OFFER: SignalData = { type: 'offer', sdp: 'v=0 offer' };
const ANSWER: SignalData = { type: 'answer', sdp: 'v=0 answer' };
const CANDIDATE: SignalData = { type: 'candidate', candidate: { candidate: 'candidate:0 1 udp 2122260223 192.0.2.1 50000 typ host', sdpMLineIndex: 0, sdpMid: '0' } };
const FLOOD = 1000;

describe('signalling out of sequence', () => {
  it(`offers that lose glare to our dial count toward its ${WEBRTC_MAX_REMOTE_SIGNALS_PER_NEGOTIATION}-signal cap: ${FLOOD} of them end the dial, not pass uncounted`, async () => {
    const scene = await startLightScene();
    const { victim } = scene;
    const relay = await connectAttacker(victim, { dialledByVictim: true });
    // A remote whose id is above ours: our dial wins glare, so its offers are set aside.
    let remote = generateNodeKey().nodeId;
    while (remote < victim.id) remote = generateNodeKey().nodeId;
    const dial = victim.sw.dial(`webrtc://${remote}?via=${relay.id}`).then(
      () => 'connected',
      (error: Error & { detail?: Record<string, unknown> }) => error,
    );
    await waitFor(() => relay.agent.messages.some((m) => m.channelId === SIGNAL_CHANNEL_ID), 3000, 'our offer at the relay');
    const offer = encodeSignalMessage({ type: 'signal', from: remote, to: victim.id, data: OFFER });
    const floodedAt = Date.now();
    for (let i = 0; i < FLOOD; i++) relay.peer.trySend(SIGNAL_CHANNEL_ID, offer);
    const outcome = await within(dial, 2500, 'the dial to end');
    expect(outcome, 'the dial fails on the cap (before: still pending, every offer taken)').toMatchObject({ name: 'TransportError', detail: { reason: 'too-many-signals' } });
    await waitFor(() => victim.signal.stats.delivered + victim.signal.stats.dropped >= FLOOD, 3000, 'the flood read');
    // Past the cap the offers are the relay's again: its sender's share of the relayed bucket, and the
    // answers it may have us open (each again capped), as for any relay sending offers.
    const stub = victim.stubRtc!;
    expect(stub.created.length, 'RTCPeerConnections: our dial and the answer burst').toBeLessThanOrEqual(1 + WEBRTC_ANSWERS_BURST_PER_VIA);
    for (const session of stub.created) expect(session.signals.length).toBeLessThanOrEqual(WEBRTC_MAX_REMOTE_SIGNALS_PER_NEGOTIATION);
    // The sender's share refills while a loaded machine reads the flood.
    const refilled = Math.ceil((SIGNAL_RATE_PER_SECOND * (Date.now() - floodedAt)) / 1000) + SIGNAL_RATE_PER_SECOND;
    const bound = WEBRTC_MAX_REMOTE_SIGNALS_PER_NEGOTIATION + WEBRTC_ANSWERS_BURST_PER_VIA * (WEBRTC_MAX_REMOTE_SIGNALS_PER_NEGOTIATION + 1) + SIGNAL_BURST_MESSAGES + refilled;
    expect(victim.signal.stats.delivered, 'offers handed to the transport').toBeLessThanOrEqual(bound);
    expect(relay.onVictim(), 'the relay is not blamed for what it forwards').toBeDefined();
    await finishScene(scene);
  });

  it('`unreachable` replies to signals we never sent take from the sender\'s own allowance: a flood costs it its connection (ERR_RATE_LIMIT)', async () => {
    const scene = await startLightScene();
    const { victim } = scene;
    const attacker = await connectAttacker(victim);
    const since = Date.now();
    const unreachable = encodeSignalMessage({ type: 'unreachable', to: generateNodeKey().nodeId });
    for (let i = 0; i < 10 * FLOOD && attacker.onVictim() !== undefined; i++) {
      attacker.peer.trySend(SIGNAL_CHANNEL_ID, unreachable);
      if (i % 500 === 499) await sleep(5);
    }
    // Before: never cut; past the relayed bucket each one was read and dropped, 10,000 of them.
    await expectCutOff(victim, attacker, 'ERR_RATE_LIMIT', 3000, since);
    await finishScene(scene);
  });
});

describe('our own signalling, paced to what a relay takes', () => {
  it('eight peers of an honest relay each offering once: our answers and candidates (14 each) go at the relay\'s pace, and the relay keeps us', async () => {
    const scene = await startLightScene();
    const { victim } = scene;
    const [, relay] = scene.honest; // the victim dialled it: the relay forwards any offer to the victim
    victim.stubRtc!.candidatesPerSession = 13;
    const heard: number[] = [];
    const senders = await Promise.all(
      Array.from({ length: WEBRTC_ANSWERS_BURST_PER_VIA }, async (_, index) => {
        heard[index] = 0;
        const sender = await startHonest('tcp://127.0.0.1:0', new SignalAgent({ relay: false, onSignal: () => void heard[index]!++ }));
        await sender.sw.dial(relay.address);
        return sender;
      }),
    );
    for (const sender of senders) sender.signal.sendSignal(relay.id, victim.id, OFFER);
    const expected = WEBRTC_ANSWERS_BURST_PER_VIA * 14;
    // Before: 112 signals at once, past the relay's burst of 100: it cut the victim (ERR_RATE_LIMIT).
    await waitFor(() => heard.reduce((sum, n) => sum + n, 0) >= expected || victim.sw.getPeer(relay.id) === undefined, 8000, 'every answer and candidate relayed');
    expect(victim.disconnects.filter((d) => d.id === relay.id).map((d) => (d.reason as { code?: string } | undefined)?.code ?? 'clean'), 'the relay keeps the victim').toEqual([]);
    expect(heard.reduce((sum, n) => sum + n, 0), 'answers and candidates the senders got').toBe(expected);
    await finishScene(scene);
  });
});

describe('our own signalling, paced: what a failed negotiation had waiting', () => {
  it('eight dials through a relay to nodes it does not know fail on their offers: the candidates they had waiting are not sent (before: all 112 went, for 2.5 s after)', async () => {
    const scene = await startLightScene();
    const { victim } = scene;
    victim.stubRtc!.candidatesPerSession = 13;
    const relay = await startHonest('tcp://127.0.0.1:0');
    await victim.sw.dial(relay.address);
    const dials = Array.from({ length: WEBRTC_DIALS_BURST_PER_VIA }, () => victim.sw.dial(`webrtc://${generateNodeKey().nodeId}?via=${relay.id}`).then(
      () => 'connected',
      (error: Error & { detail?: Record<string, unknown> }) => error.detail?.['reason'],
    ));
    expect(await within(Promise.all(dials), 3000, 'the dials to fail')).toEqual(Array(WEBRTC_DIALS_BURST_PER_VIA).fill('unreachable'));
    await sleep(3000);
    // 75 go at once (the pace's burst): five dials whole and the sixth's offer; the rest wait their turn.
    // Each dial fails on its offer's `unreachable`: past the burst, only the offers of the last two go.
    expect(relay.signal.stats.unreachable, 'signals the relay got').toBeLessThanOrEqual(85);
    expect(victim.disconnects.filter((d) => d.id === relay.id), 'the relay keeps the victim').toEqual([]);
    await finishScene(scene);
  });
});

describe('a relay that dialled us, forwarding what it may', () => {
  it('a late signal of a negotiation we ended, forwarded by a relay that dialled us, is dropped: the relay keeps its link (before: ERR_SPOOFED_SENDER)', async () => {
    const scene = await startLightScene();
    const { victim } = scene;
    const { remote, x, received, endNegotiation } = await signalThroughVictim(victim);
    remote.peer.trySend(SIGNAL_CHANNEL_ID, encodeSignalMessage({ type: 'signal', from: remote.id, to: x.id, data: ANSWER }));
    await waitFor(() => received.length === 1, 3000, 'the answer relayed back');
    // x's negotiation ends (connected, failed, timed out); the remote's last candidates are still on the way.
    endNegotiation();
    for (let i = 0; i < 3; i++) remote.peer.trySend(SIGNAL_CHANNEL_ID, encodeSignalMessage({ type: 'signal', from: remote.id, to: x.id, data: CANDIDATE }));
    await waitFor(() => victim.signal.stats.relayed >= 4, 3000, 'the late candidates relayed');
    await sleep(300);
    expect(x.sw.getPeer(victim.id), 'x keeps its link to the victim').toBeDefined();
    expect(victim.disconnects.filter((d) => d.id === x.id).map((d) => (d.reason as { code?: string } | undefined)?.code ?? 'clean')).toEqual([]);
    expect(received, 'nothing of an ended negotiation reaches the transport').toHaveLength(1);
    await finishScene(scene);
  });

  it.each([2, 16])('%i nodes x signalled through us each sending it 95 late candidates, all within what we take from them: x drops them on our relayed allowance, which we pace what we forward to, and keeps us (before: on our own, ERR_SPOOFED_SENDER past it)', async (count) => {
    const scene = await startLightScene();
    const { victim } = scene;
    const remotes = await Promise.all(Array.from({ length: count }, () => connectAttacker(victim)));
    let negotiating = true;
    const x = await startHonest('tcp://127.0.0.1:0', new SignalAgent({
      isNegotiating: (via, from) => negotiating && via === victim.id && remotes.some((r) => r.id === from),
    }));
    await victim.sw.dial(x.address);
    for (const remote of remotes) expect(x.signal.sendSignal(victim.id, remote.id, OFFER)).toBe(true);
    await waitFor(() => remotes.every((r) => r.agent.messages.some((m) => m.channelId === SIGNAL_CHANNEL_ID)), 3000, 'the offers relayed');
    // x's negotiations end; the remotes (attackers) then send what the victim lets each send it.
    negotiating = false;
    const late = SIGNAL_BURST_MESSAGES - 5;
    for (const remote of remotes) {
      const candidate = encodeSignalMessage({ type: 'signal', from: remote.id, to: x.id, data: CANDIDATE });
      for (let i = 0; i < late; i++) remote.peer.trySend(SIGNAL_CHANNEL_ID, candidate);
      await sleep(30); // the victim's send queue to x (256) drains: what limits the victim is its pacing alone
    }
    await waitFor(() => victim.signal.stats.relayed + victim.signal.stats.unreachable >= count * (1 + late) || x.sw.getPeer(victim.id) === undefined, 3000, 'the late candidates relayed');
    await sleep(300);
    // Before: x took them from the victim's own allowance (burst 100) and cut it past that; 16 of them
    // (the routes the victim keeps for x) pass x's relayed allowance (1,000) unless the victim paces what
    // it forwards to x.
    expect(victim.disconnects.filter((d) => d.id === x.id).map((d) => (d.reason as { code?: string } | undefined)?.code ?? 'clean'), 'x keeps the victim').toEqual([]);
    expect(remotes.every((r) => r.onVictim() !== undefined), 'the victim took them within each sender\'s allowance').toBe(true);
    expect(x.signal.stats.dropped, 'dropped at x').toBe(victim.signal.stats.relayed - count);
    await finishScene(scene);
  });

  it('a peer that dialled us, flooding signals under the name of a node we signalled through it, is cut past the relayed allowance (10×), not read at any rate', async () => {
    const scene = await startLightScene();
    const { victim } = scene;
    const attacker = await connectAttacker(victim);
    const remote = generateNodeKey().nodeId;
    expect(victim.signal.sendSignal(attacker.id, remote, OFFER)).toBe(true);
    const since = Date.now();
    const candidate = encodeSignalMessage({ type: 'signal', from: remote, to: victim.id, data: CANDIDATE });
    for (let i = 0; i < 10 * FLOOD && attacker.onVictim() !== undefined; i++) {
      attacker.peer.trySend(SIGNAL_CHANNEL_ID, candidate);
      if (i % 500 === 499) await sleep(5);
    }
    await expectCutOff(victim, attacker, 'ERR_RATE_LIMIT', 3000, since);
    expect(victim.signal.stats.dropped, 'read and dropped before the cut').toBeLessThan(2 * SIGNAL_RELAYED_ALLOWANCE_FACTOR * SIGNAL_BURST_MESSAGES);
    await finishScene(scene);
  });

  it('an offer from a node x dialled through us, sent after its negotiation ended, is dropped by x: x keeps the victim (before: ERR_SPOOFED_SENDER)', async () => {
    const scene = await startLightScene();
    const { victim } = scene;
    const { remote, x, received, endNegotiation } = await signalThroughVictim(victim);
    endNegotiation();
    const relayed = victim.signal.stats.relayed;
    remote.peer.trySend(SIGNAL_CHANNEL_ID, encodeSignalMessage({ type: 'signal', from: remote.id, to: x.id, data: OFFER }));
    await waitFor(() => victim.signal.stats.relayed > relayed, 3000, 'the offer relayed to x');
    await sleep(300);
    expect(x.sw.getPeer(victim.id), 'x keeps its link to the victim').toBeDefined();
    expect(received, 'the offer does not reach the transport').toEqual([]);
    await finishScene(scene);
  });
});

describe('a relay that dialled us: who it routes for us', () => {
  it('64 signals to made-up nodes through the relay (dials PEX was handed), each answered `unreachable`, do not flush the node x dialled before them: its offer is dropped and x keeps the relay (before: ERR_SPOOFED_SENDER)', async () => {
    const scene = await startLightScene();
    const { victim } = scene;
    let unreachable = 0;
    const { remote, x, endNegotiation } = await signalThroughVictim(victim, { onUnreachable: () => void unreachable++ });
    endNegotiation();
    // Addresses a liar handed x's PEX (`webrtc://<made-up>?via=<relay>`): the relay forwards none, so
    // it keeps its route to the remote, and answers each `unreachable`.
    // In bursts of 8, as x's dial allowance through one relay lets them go.
    const madeUp = 64;
    for (let i = 0; i < madeUp; i += WEBRTC_DIALS_BURST_PER_VIA) {
      for (let j = 0; j < WEBRTC_DIALS_BURST_PER_VIA; j++) expect(x.signal.sendSignal(victim.id, generateNodeKey().nodeId, OFFER)).toBe(true);
      await waitFor(() => unreachable >= i + WEBRTC_DIALS_BURST_PER_VIA, 3000, 'the made-up dials answered unreachable');
    }
    const relayed = victim.signal.stats.relayed;
    remote.peer.trySend(SIGNAL_CHANNEL_ID, encodeSignalMessage({ type: 'signal', from: remote.id, to: x.id, data: OFFER }));
    await waitFor(() => victim.signal.stats.relayed > relayed, 3000, 'the offer relayed to x');
    await sleep(300);
    expect(victim.disconnects.filter((d) => d.id === x.id).map((d) => (d.reason as { code?: string } | undefined)?.code ?? 'clean'), 'x keeps the victim').toEqual([]);
    await finishScene(scene);
  });
});

let wrtcAvailable = true;
try {
  createRequire(import.meta.url)('@roamhq/wrtc');
} catch {
  wrtcAvailable = false;
}

describe.skipIf(!wrtcAvailable)('glare through a relay that dialled one side, over real WebRTC', () => {
  const switches: Switch[] = [];
  afterEach(async () => void (await Promise.all(switches.splice(0).map((sw) => sw.stop()))));

  /** A node with TCP and WebRTC (listening on both) and the transport's signalling agent. */
  async function rtcNode(key: NodeKey): Promise<Switch> {
    const rtc = webrtcTransport();
    const sw = new Switch({ identity: key, network: 'hostile-net', transports: [tcpTransport(), rtc], listen: ['tcp://127.0.0.1:0', `webrtc://${key.nodeId}`], aead: nodeChaCha20Poly1305, dialTimeoutMs: 5000 });
    sw.addAgent('signal', rtc.signalAgent);
    await sw.start();
    switches.push(sw);
    return sw;
  }

  it('both ends dial at once, the one the relay dialled having the higher id: they connect, and it keeps the relay (before: it cut the relay, ERR_SPOOFED_SENDER)', async () => {
    const [low, high] = [generateNodeKey(), generateNodeKey()].sort((a, b) => (a.nodeId < b.nodeId ? -1 : 1)) as [NodeKey, NodeKey];
    const relay = await startHonest('tcp://127.0.0.1:0');
    const [t, x] = [await rtcNode(high), await rtcNode(low)];
    await relay.sw.dial(t.addresses[0]!); // to t, the relay is no relay it chose
    await x.dial(relay.address);
    const relayCuts: string[] = [];
    t.on('peer:disconnected', ({ peer, reason }) => void (peer.id === relay.id && relayCuts.push((reason as { code?: string } | undefined)?.code ?? 'clean')));
    // t yields to x's offer (the lower id) and answers it: x's candidates come through the relay.
    await Promise.allSettled([t.dial(`webrtc://${x.nodeId}?via=${relay.id}`), x.dial(`webrtc://${t.nodeId}?via=${relay.id}`)]);
    await waitFor(() => t.getPeer(x.nodeId)?.transport === 'webrtc', 5000, 't and x connected over WebRTC');
    await sleep(500);
    expect(relayCuts, "t's link to the relay").toEqual([]);
  });
});

/**
 * A node x that the victim dialled (so to x the victim is no relay it chose) sends an offer through the
 * victim to an attacker-held `remote`, and negotiates with it until `endNegotiation`.
 */
async function signalThroughVictim(victim: Awaited<ReturnType<typeof startLightScene>>['victim'], options: Pick<SignalAgentOptions, 'onUnreachable'> = {}) {
  const remote = await connectAttacker(victim);
  let negotiating = true;
  const received: IncomingSignal[] = [];
  const x = await startHonest('tcp://127.0.0.1:0', new SignalAgent({
    isNegotiating: (via, from) => negotiating && via === victim.id && from === remote.id,
    onSignal: (incoming) => void received.push(incoming),
    ...options,
  }));
  await victim.sw.dial(x.address);
  expect(x.signal.sendSignal(victim.id, remote.id, OFFER)).toBe(true);
  await waitFor(() => remote.agent.messages.some((m) => m.channelId === SIGNAL_CHANNEL_ID), 3000, 'the offer relayed to the remote');
  return { remote, x, received, endNegotiation: () => void (negotiating = false) };
}
