/**
 * Issue 8, after the handshake: an authenticated attacker abusing PEX (request floods, hostile
 * responses) and signalling (floods, a spoofed `from`, fake offers that would hold every pending
 * WebRTC accept). Each rule-breaker is cut off with its typed code; honest peers keep exchanging.
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import SimplePeer from 'simple-peer';
import { afterEach, describe, expect, it } from 'vitest';
import { decodePexMessage, encodePexMessage } from '../../src/pex/pex-messages.js';
import { PEX_CHANNEL_ID } from '../../src/pex/constants.js';
import { SIGNAL_BURST_MESSAGES, SIGNAL_CHANNEL_ID, SIGNAL_RATE_PER_SECOND } from '../../src/webrtc/constants.js';
import { encodeSignalMessage, type SignalData } from '../../src/webrtc/signal-messages.js';
import { SignalAgent, type IncomingSignal } from '../../src/webrtc/signal-agent.js';
import { WEBRTC_MAX_PENDING_ACCEPTS_PER_VIA, WEBRTC_MAX_REMOTE_SIGNALS_PER_NEGOTIATION } from '../../src/webrtc/constants.js';
import { encodeMessage } from '../../src/wire/codec.js';
import { webrtcTransport } from '../../platforms/node/webrtc.js';
import { waitFor } from '../helpers/wait.js';
import { connectAttacker, expectCutOff, finishScene, sleep, startHonest, startScene, stopHostileNodes, type Attacker, type Victim } from './harness.js';

afterEach(stopHostileNodes);

/** How long the victim may take to cut off an attacker, from its send (generous: CI cores are shared). */
const CUT_OFF_MS = 3000;
/** A made-up node id (cheap: no key generation). */
const fakeId = (): string => randomBytes(20).toString('hex');
const offer = (sdp = 'v=0 fake-offer'): SignalData => ({ type: 'offer', sdp });
const signal = (from: string, to: string, data: SignalData = offer()): Uint8Array => encodeSignalMessage({ type: 'signal', from, to, data });

/** Makes the victim ask the attacker for addresses, and waits until the request arrived. */
async function solicit(victim: Victim, attacker: Attacker): Promise<void> {
  expect(victim.pex.requestAddresses(attacker.onVictim()!), 'victim asks the attacker').toBe(true);
  await waitFor(() => attacker.agent.messages.some((m) => m.channelId === PEX_CHANNEL_ID && decodePexMessage(m.message).type === 'pexRequest'), 2000, 'pexRequest');
}

const tcp = (id: string, host: string, port = 26656): string => `tcp://${id}@${host}:${port}`;
/** Valid, routable (documentation-free public) addresses of made-up nodes. */
const publicAddresses = (count: number): string[] => Array.from({ length: count }, (_, i) => tcp(fakeId(), `45.${(i >> 8) & 255}.${i & 255}.7`, 20000 + (i % 30000)));

describe('after the handshake: PEX abuse', () => {
  it('a pexRequest flood costs the sender its connection and a ban (ERR_PEX_REQUEST_TOO_SOON), after one answer', async () => {
    const scene = await startScene();
    const attacker = await connectAttacker(scene.victim);
    const since = Date.now();
    for (let i = 0; i < 50; i++) attacker.peer.trySend(PEX_CHANNEL_ID, encodePexMessage({ type: 'pexRequest' }));
    const { error } = await expectCutOff(scene.victim, attacker, 'ERR_PEX_REQUEST_TOO_SOON', CUT_OFF_MS, since);
    expect(error.peerId).toBe(attacker.id);
    expect(scene.victim.pex.stats().requestsReceived).toBe(1);
    expect(scene.victim.sw.bans.isBanned(attacker.id)).toBe(true);
    await finishScene(scene);
  });

  it('a pexResponse with 10,000 addresses is refused at the channel cap and bans the sender, adding nothing (ERR_MESSAGE_TOO_LARGE)', async () => {
    const scene = await startScene();
    const { victim } = scene;
    const attacker = await connectAttacker(victim);
    await solicit(victim, attacker);
    const bookBefore = victim.pex.book.size();
    const flood = encodePexMessage({ type: 'pexResponse', addresses: publicAddresses(10_000) });
    const since = Date.now();
    await attacker.peer.send(PEX_CHANNEL_ID, flood);
    await expectCutOff(victim, attacker, 'ERR_MESSAGE_TOO_LARGE', CUT_OFF_MS, since);
    expect(victim.sw.bans.isBanned(attacker.id)).toBe(true);
    expect(victim.pex.book.size()).toBe(bookBefore);
    await finishScene(scene);
  });

  it('10,000 short addresses that fit the byte cap are refused by the decoder limits (ERR_MALFORMED_MESSAGE)', async () => {
    const scene = await startScene();
    const { victim } = scene;
    const attacker = await connectAttacker(victim);
    await solicit(victim, attacker);
    const since = Date.now();
    await attacker.peer.send(PEX_CHANNEL_ID, encodePexMessage({ type: 'pexResponse', addresses: Array.from({ length: 10_000 }, (_, i) => `a${i}`) }));
    await expectCutOff(victim, attacker, 'ERR_MALFORMED_MESSAGE', CUT_OFF_MS, since);
    expect(victim.pex.book.size()).toBe(0);
    await finishScene(scene);
  });

  it.each([
    ['addresses that is not an array', 'ERR_MALFORMED_MESSAGE', { type: 'pexResponse', addresses: 'tcp://x' }],
    ['an address that is not a string', 'ERR_MALFORMED_MESSAGE', { type: 'pexResponse', addresses: [42] }],
    ['an extra field', 'ERR_MALFORMED_MESSAGE', { type: 'pexResponse', addresses: [], extra: 1 }],
    ['a malformed address', 'ERR_PEX_INVALID_ADDRESS', { type: 'pexResponse', addresses: ['not an address'] }],
    ['an address without a node id', 'ERR_PEX_INVALID_ADDRESS', { type: 'pexResponse', addresses: ['tcp://45.1.2.3:26656'] }],
  ] as const)('a pexResponse with %s costs the sender its connection (%s)', async (_what, code, body) => {
    const scene = await startScene();
    const attacker = await connectAttacker(scene.victim);
    await solicit(scene.victim, attacker);
    const since = Date.now();
    await attacker.peer.send(PEX_CHANNEL_ID, encodeMessage(body));
    await expectCutOff(scene.victim, attacker, code, CUT_OFF_MS, since);
    expect(scene.victim.pex.book.size()).toBe(0);
    await finishScene(scene);
  });

  it("a pexResponse naming the victim's own addresses costs the sender its connection (ERR_PEX_INVALID_ADDRESS)", async () => {
    const scene = await startScene();
    const { victim } = scene;
    const attacker = await connectAttacker(victim);
    await solicit(victim, attacker);
    const since = Date.now();
    await attacker.peer.send(PEX_CHANNEL_ID, encodePexMessage({ type: 'pexResponse', addresses: [...publicAddresses(3), victim.tcpAddress, victim.wsAddress] }));
    const { error } = await expectCutOff(victim, attacker, 'ERR_PEX_INVALID_ADDRESS', CUT_OFF_MS, since);
    expect(error.message).toMatch(/own node id/);
    // One bad address discredits the whole response: none of the three good ones was added.
    expect(victim.pex.book.size()).toBe(0);
    await finishScene(scene);
  });

  it('unroutable addresses are kept out of the book without punishing the sender; an unasked second response is punished (ERR_PEX_UNSOLICITED_RESPONSE)', async () => {
    const scene = await startScene();
    const { victim } = scene;
    const attacker = await connectAttacker(victim);
    await solicit(victim, attacker);
    const unroutable = ['10.0.0.1', '192.168.1.1', '127.0.0.1', '169.254.1.1', '100.64.0.1', '[::1]', '[fe80::1]'].map((host) => tcp(fakeId(), host));
    const accepted = new Promise<{ received: number; added: number }>((resolve) => victim.pex.on('addresses', (detail) => resolve(detail)));
    await attacker.peer.send(PEX_CHANNEL_ID, encodePexMessage({ type: 'pexResponse', addresses: unroutable }));
    expect(await Promise.race([accepted, sleep(2000).then(() => undefined)])).toMatchObject({ received: unroutable.length, added: 0 });
    expect(victim.pex.book.size()).toBe(0);
    expect(attacker.onVictim()?.isConnected).toBe(true);
    const since = Date.now();
    await attacker.peer.send(PEX_CHANNEL_ID, encodePexMessage({ type: 'pexResponse', addresses: publicAddresses(5) }));
    await expectCutOff(victim, attacker, 'ERR_PEX_UNSOLICITED_RESPONSE', CUT_OFF_MS, since);
    expect(victim.pex.book.size()).toBe(0);
    await finishScene(scene);
  });
});

describe('after the handshake: PEX abuse of a seed', () => {
  it('a seed answers one pexRequest per connection: a pipelined flood costs the sender its connection (ERR_PEX_REQUEST_TOO_SOON), after one answer', async () => {
    const scene = await startScene({ pex: { seedMode: true } });
    const { victim } = scene;
    const attacker = await connectAttacker(victim);
    const since = Date.now();
    const request = encodePexMessage({ type: 'pexRequest' });
    let queued = 0;
    while (queued < 3000 && attacker.peer.trySend(PEX_CHANNEL_ID, request)) queued++;
    await expectCutOff(victim, attacker, 'ERR_PEX_REQUEST_TOO_SOON', CUT_OFF_MS, since);
    // The honest peers have no PEX agent: every request the seed took was the attacker's.
    expect(victim.pex.stats().requestsReceived, 'requests the seed answered').toBe(1);
    await finishScene(scene);
  });
});

describe('after the handshake: signalling abuse', () => {
  it('a signalling flood costs the sender its connection (ERR_RATE_LIMIT) and relays no more than its burst', async () => {
    const scene = await startScene();
    const [h1] = scene.honest;
    const attacker = await connectAttacker(scene.victim);
    const since = Date.now();
    const candidate: SignalData = { type: 'candidate', candidate: { candidate: 'candidate:0 1 UDP 1 127.0.0.1 9 typ host' } };
    for (let i = 0; i < 3 * SIGNAL_BURST_MESSAGES; i++) attacker.peer.trySend(SIGNAL_CHANNEL_ID, signal(attacker.id, h1.id, candidate));
    const { error, elapsedMs } = await expectCutOff(scene.victim, attacker, 'ERR_RATE_LIMIT', CUT_OFF_MS, since);
    expect(error.peerId).toBe(attacker.id);
    await sleep(100);
    // The burst, plus what the bucket refilled while the flood was being read.
    const allowed = SIGNAL_BURST_MESSAGES + Math.ceil((SIGNAL_RATE_PER_SECOND * elapsedMs) / 1000);
    expect(h1.signal.stats.delivered).toBeLessThanOrEqual(allowed);
    expect(scene.victim.signal.stats.relayed).toBeLessThanOrEqual(allowed);
    await finishScene(scene);
  });

  it.each([
    ['an honest peer', (_victim: Victim, honestId: string) => honestId],
    ['the victim itself', (victim: Victim) => victim.id],
    ['a made-up node', () => fakeId()],
  ])("an inbound peer's signal to the victim claiming to come from %s costs it its connection (ERR_SPOOFED_SENDER)", async (_who, claimed) => {
    const scene = await startScene();
    const { victim } = scene;
    const attacker = await connectAttacker(victim);
    expect(attacker.onVictim()!.direction).toBe('inbound');
    const since = Date.now();
    attacker.peer.trySend(SIGNAL_CHANNEL_ID, signal(claimed(victim, scene.honest[1].id), victim.id));
    const { error } = await expectCutOff(victim, attacker, 'ERR_SPOOFED_SENDER', CUT_OFF_MS, since);
    expect(error.peerId).toBe(attacker.id);
    // No answering session was opened for the spoofed offer.
    expect(victim.stubRtc!.created).toEqual([]);
    await finishScene(scene);
  });

  it("a spoofed `from` on a signal the victim relays never reaches the target under the spoofed id", async () => {
    const scene = await startScene();
    const { victim } = scene;
    const [h1, h2] = scene.honest;
    const seen: IncomingSignal[] = [];
    h1.signal.setHandlers({ onSignal: (incoming) => seen.push(incoming) });
    const attacker = await connectAttacker(victim);
    attacker.peer.trySend(SIGNAL_CHANNEL_ID, signal(h2.id, h1.id));
    await waitFor(() => seen.length > 0 || attacker.onVictim() === undefined, 2000, 'relayed or cut off');
    // Either relayed with the sender's authenticated id, or the sender is cut off for spoofing.
    for (const incoming of seen) expect(incoming.from).toBe(attacker.id);
    if (seen.length === 0) await expectCutOff(victim, attacker, 'ERR_SPOOFED_SENDER', 0);
    await finishScene(scene);
  });

  it('an honest relay that dialled the victim keeps its connection while relaying the answer to a WebRTC dial through it', async () => {
    const scene = await startScene();
    const { victim } = scene;
    const [h1] = scene.honest; // h1 dialled the victim: an inbound peer, and an honest relay
    const x = await startHonest('tcp://127.0.0.1:0', new SignalAgent({ onSignal: ({ from, via, data }) => void (data.type === 'offer' && x.signal.sendSignal(via, from, { type: 'answer', sdp: 'v=0 x' })) }));
    await x.sw.dial(h1.address);
    const dial = victim.sw.dial(`webrtc://${x.id}?via=${h1.id}`, { signal: AbortSignal.timeout(1500) }).then(
      () => 'connected',
      (error: { code?: string }) => error.code,
    );
    const session = (): { signals: SignalData[] } | undefined => victim.stubRtc!.created.find((c) => c.initiator);
    await waitFor(() => session()?.signals.some((d) => d.type === 'answer') === true || victim.sw.getPeer(h1.id) === undefined, 2000, 'answer or cut-off').catch(() => undefined);
    // The relay only forwarded what x sent; it is not to blame and must stay connected.
    expect(victim.disconnects.filter((d) => d.id === h1.id).map((d) => (d.reason as { code?: string } | undefined)?.code), 'honest relay disconnects').toEqual([]);
    // Either the answer reached the dialling session, or the dial was refused up front with a typed error.
    if (session()?.signals.some((d) => d.type === 'answer') !== true) expect(await dial).toMatch(/^ERR_(?!ABORTED|TIMEOUT)/);
    await dial;
    await finishScene(scene);
  });

  it(`one relay with many fake senders holds at most ${WEBRTC_MAX_PENDING_ACCEPTS_PER_VIA} pending accepts; an honest offer through another relay is answered`, async () => {
    const scene = await startScene();
    const { victim } = scene;
    const [, h2] = scene.honest; // the victim dialled h2: a relay it trusts to forward others' signals
    const attacker = await connectAttacker(victim, { dialledByVictim: true });
    const offers = 40;
    for (let i = 0; i < offers; i++) attacker.peer.trySend(SIGNAL_CHANNEL_ID, signal(fakeId(), victim.id));
    await waitFor(() => victim.signal.stats.delivered >= offers, 2000, 'fake offers delivered');
    await sleep(50);
    expect(victim.rtc.pendingAcceptCounts().byVia.get(attacker.id)).toBe(WEBRTC_MAX_PENDING_ACCEPTS_PER_VIA);
    expect(victim.stubRtc!.openAccepts).toBe(WEBRTC_MAX_PENDING_ACCEPTS_PER_VIA);

    const answers: IncomingSignal[] = [];
    const x = await startHonest('tcp://127.0.0.1:0', new SignalAgent({ onSignal: (incoming) => answers.push(incoming) }));
    await x.sw.dial(h2.address);
    expect(x.signal.sendSignal(h2.id, victim.id, offer('v=0 honest-offer'))).toBe(true);
    await waitFor(() => answers.length > 0, 2000, 'the honest offer is answered');
    expect(answers[0]).toMatchObject({ from: victim.id, via: h2.id, data: { type: 'answer' } });
    expect(victim.rtc.pendingAcceptCounts().byVia.get(h2.id)).toBe(1);
    await finishScene(scene);
  });
});

describe('after the handshake: one WebRTC negotiation flooded with signals', () => {
  it(`ends an answer whose remote sends more than ${WEBRTC_MAX_REMOTE_SIGNALS_PER_NEGOTIATION} signals, without punishing the relay`, async () => {
    const scene = await startScene();
    const { victim } = scene;
    const attacker = await connectAttacker(victim, { dialledByVictim: true });
    const from = fakeId();
    const candidates = 300;
    attacker.peer.trySend(SIGNAL_CHANNEL_ID, signal(from, victim.id));
    const candidate = (i: number): SignalData => ({ type: 'candidate', candidate: { candidate: `candidate:${i} 1 udp 2122260223 45.1.${i >> 8}.${i & 255} ${40000 + i} typ host`, sdpMLineIndex: 0, sdpMid: '0' } });
    for (let i = 0; i < candidates; i++) attacker.peer.trySend(SIGNAL_CHANNEL_ID, signal(from, victim.id, candidate(i)));
    // Past the negotiation's end, the rest take from one sender's share of the relay's allowance: some are dropped.
    await waitFor(() => victim.signal.stats.delivered + victim.signal.stats.dropped >= candidates + 1, 3000, 'the signals delivered or dropped');
    await sleep(50);
    const sessions = victim.stubRtc!.created.filter((c) => !c.initiator);
    expect(sessions.length, 'answering sessions opened').toBe(1);
    expect(sessions[0]!.signals.length, 'signals handed to the session').toBeLessThanOrEqual(WEBRTC_MAX_REMOTE_SIGNALS_PER_NEGOTIATION);
    expect(sessions[0]!.destroyed, 'the flooded session is closed').toBe(true);
    expect(victim.rtc.pendingAcceptCounts().total).toBe(0);
    expect(attacker.onVictim(), 'the relay keeps its connection').toBeDefined();
    await finishScene(scene);
  });
});

let wrtc: unknown;
try {
  wrtc = createRequire(import.meta.url)('@roamhq/wrtc');
} catch {
  wrtc = undefined;
}

/** A real SDP offer (no candidates: trickle) that nobody will ever complete. */
async function realOffer(): Promise<string> {
  const peer = new SimplePeer({ initiator: true, trickle: true, wrtc: wrtc as SimplePeer.Options['wrtc'], config: { iceServers: [] } });
  const sdp = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no offer within 3 s')), 3000);
    peer.on('signal', (data: { type?: string; sdp?: string }) => {
      if (data.type === 'offer' && data.sdp !== undefined) {
        clearTimeout(timer);
        resolve(data.sdp);
      }
    });
  });
  peer.destroy();
  return sdp;
}

describe.skipIf(wrtc === undefined)('after the handshake: pending WebRTC accepts, over real WebRTC', () => {
  it('an honest node still connects over WebRTC through another relay while one relay floods real offers from fake senders', async () => {
    const scene = await startScene({ webrtc: 'real' });
    const { victim } = scene;
    const [, h2] = scene.honest;
    const attacker = await connectAttacker(victim, { dialledByVictim: true });
    const sdp = await realOffer();
    for (let i = 0; i < 24; i++) attacker.peer.trySend(SIGNAL_CHANNEL_ID, signal(fakeId(), victim.id, offer(sdp)));
    await waitFor(() => victim.signal.stats.delivered >= 24, 2000, 'fake offers delivered');
    await sleep(200);
    expect(victim.rtc.pendingAcceptCounts().byVia.get(attacker.id) ?? 0).toBeLessThanOrEqual(WEBRTC_MAX_PENDING_ACCEPTS_PER_VIA);

    const rtc = webrtcTransport();
    const x = await startHonest('tcp://127.0.0.1:0', rtc.signalAgent, [rtc]);
    await x.sw.dial(h2.address);
    const peer = await x.sw.dial(`webrtc://${victim.id}?via=${h2.id}`);
    expect(peer.transport).toBe('webrtc');
    await waitFor(() => victim.sw.getPeer(x.id)?.transport === 'webrtc', 3000, 'victim sees the WebRTC peer');
    await finishScene(scene);
  });
});
