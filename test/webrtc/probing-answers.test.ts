/**
 * Answers naming a spread of victim addresses, one each (src/webrtc/candidate-targets.ts
 * WEBRTC_PROBING_ANSWERS): real @roamhq/wrtc answers to offers whose ICE credentials no check
 * satisfies, each naming another loopback address (loopback candidates let through, so that one machine
 * has 32 addresses), UDP sockets there counting the RTCPeerConnections whose checks reach them, or TCP
 * listeners counting the connections a `tcptype passive` candidate has our ICE agent open.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WEBRTC_CROWDED_ADDRESS_HOLD_MS, WEBRTC_PROBING_ANSWERS } from '../../src/webrtc/candidate-targets.js';
import { WEBRTC_ANSWERS_BURST_PER_NETWORK } from '../../src/webrtc/constants.js';
import { TransportError } from '../../src/errors.js';
import { systemClock } from '../../src/util/clock.js';
import type { SignalData } from '../../src/webrtc/signal-messages.js';
import type { WebRtcLink } from '../../src/webrtc/webrtc-link.js';
import { answer, falseCredentialOffer, offerNaming, wrtcNegotiations } from '../helpers/crowded-address.js';
import { stopAll, type TestNode } from '../helpers/nodes.js';
import { stunVictims, type StunVictims } from '../helpers/stun-victims.js';
import { tcpVictim, type TcpVictim } from '../helpers/tcp-victims.js';
import { waitFor } from '../helpers/wait.js';
import { dialAll, falseOffers, startRelay, webrtcNode } from './relay-scene.js';

const ANSWERS = 32;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const closers: (() => void)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) close();
  await stopAll();
});

describe('answers naming a spread of addresses that never answer', () => {
  it(`check ${WEBRTC_PROBING_ANSWERS} of ${ANSWERS} addresses at once; the others' candidates wait, and get the slots of answers whose checks get no answer (before the ${WEBRTC_CROWDED_ADDRESS_HOLD_MS} ms hold)`, async () => {
    const victims: StunVictims[] = [];
    for (let i = 0; i < ANSWERS; i++) victims.push(await stunVictims(`127.0.0.${i + 1}`, 1));
    const senders = (): number => victims.reduce((sum, victim) => sum + victim.senders(), 0);
    const negotiations = wrtcNegotiations(ANSWERS, { allowLoopbackCandidates: true });
    const offer = await falseCredentialOffer();
    const failures = new Map<number, unknown>();
    closers.push(() => {
      for (const victim of victims) victim.close();
      negotiations.failAll(new TransportError('test over'));
    });
    for (let i = 0; i < ANSWERS; i++) {
      answer(negotiations, `attacker-${i}`, offerNaming(offer, `127.0.0.${i + 1}`, victims[i]!.ports[0]!), 60_000, (error) => failures.set(i, error));
    }
    await waitFor(() => senders() >= WEBRTC_PROBING_ANSWERS, 10_000, 'checks at the victims');
    // Before: all 32 RTCPeerConnections checked theirs (~20 datagrams a second each: 646 a second in all).
    expect(senders()).toBe(WEBRTC_PROBING_ANSWERS);
    expect(failures.size).toBe(0);
    await waitFor(() => senders() === 2 * WEBRTC_PROBING_ANSWERS, 10_000, 'the waiting candidates checked');
    expect([...failures.keys()]).toEqual(Array.from({ length: WEBRTC_PROBING_ANSWERS }, (_, i) => i));
    // Ended as their checks got no answer (before: at the 5 s hold).
    expect([...failures.values()]).toMatchObject(Array(WEBRTC_PROBING_ANSWERS).fill({ detail: { reason: 'crowded-address' }, message: expect.stringContaining('no answer to its ICE checks') }));
  }, 60_000);

  it(`connect to ${WEBRTC_PROBING_ANSWERS} of ${ANSWERS} addresses named by TCP candidates; the others' are dropped (each is a connection opened at once)`, async () => {
    const victims: TcpVictim[] = [];
    for (let i = 0; i < ANSWERS; i++) victims.push(await tcpVictim(`127.0.0.${i + 1}`));
    const reached = (): number => victims.filter((victim) => victim.connections() > 0).length;
    const negotiations = wrtcNegotiations(ANSWERS, { allowLoopbackCandidates: true });
    const offer = await falseCredentialOffer();
    closers.push(() => {
      for (const victim of victims) victim.close();
      negotiations.failAll(new TransportError('test over'));
    });
    for (let i = 0; i < ANSWERS; i++) answer(negotiations, `attacker-${i}`, offerNaming(offer, `127.0.0.${i + 1}`, victims[i]!.port, 'tcp'), 60_000);
    await waitFor(() => reached() > 0, 10_000, 'a connection at a victim');
    // Past the hold: no other answer's candidate waits, so none is handed on.
    await sleep(WEBRTC_CROWDED_ADDRESS_HOLD_MS + 2000);
    // Before: all 32 reached (695–1,006 connections in the first second, then STUN over them, ~61 KB/s in all).
    expect(reached()).toBe(WEBRTC_PROBING_ANSWERS);
  }, 60_000);

  // The attackers' relays on two hosts of 127.0; the honest one in another network (127.2), or on a third
  // host of theirs (the slots go to the network, then the host, holding the fewest). The attackers' one
  // candidate each over UDP, or over TCP (a connection from us, which takes the same slots).
  it.each([
    ['another network', '127.2.0.1', 'udp'],
    ["the attackers' own network", '127.0.0.3', 'udp'],
    ['another network', '127.2.0.1', 'tcp'],
  ] as const)(`keep honest peers through a relay of %s (%s) linking while offers naming a spread of addresses over %s hold every probing slot`, async (_where, honestHost, transport) => {
    const attackerRelays = [await startRelay('127.0.0.1'), await startRelay('127.0.0.2')];
    const honestRelay = await startRelay(honestHost);
    const target = await webrtcNode({ allowLoopbackCandidates: true }, [...attackerRelays, honestRelay]);
    // As many as the network's answer burst takes, less the honest peers' and the one token a host
    // answered already leaves to others (ConnectionAllowance): 12, 8 probing and 4 waiting.
    const honestPeers = 3;
    const attackers = WEBRTC_ANSWERS_BURST_PER_NETWORK - honestPeers - 1;
    const victims: { port: number; reached: () => boolean; close: () => void }[] = [];
    for (let i = 0; i < attackers; i++) {
      const host = `127.0.0.${10 + i}`;
      if (transport === 'udp') {
        const udp = await stunVictims(host, 1);
        victims.push({ port: udp.ports[0]!, reached: () => udp.senders() > 0, close: () => udp.close() });
      } else {
        const tcp = await tcpVictim(host);
        victims.push({ port: tcp.port, reached: () => tcp.connections() > 0, close: () => tcp.close() });
      }
    }
    closers.push(() => victims.forEach((victim) => victim.close()));
    const reached = (): number => victims.filter((victim) => victim.reached()).length;
    await falseOffers(attackerRelays, target, attackers, (i) => ({ address: `127.0.0.${10 + i}`, port: victims[i]!.port, transport }));
    await waitFor(() => reached() === WEBRTC_PROBING_ANSWERS, 10_000, 'every probing slot taken');
    const peers: TestNode[] = [];
    for (let i = 0; i < honestPeers; i++) peers.push(await webrtcNode({}, [honestRelay]));
    // Their candidates wait for a probing slot (their address never answered us), but their own checks
    // reach us and are answered (a peer-reflexive candidate, which no slot gates): they link at once.
    expect(await dialAll(peers, target, () => honestRelay)).toEqual(Array(honestPeers).fill('webrtc'));
    if (transport === 'tcp') expect(reached()).toBe(WEBRTC_PROBING_ANSWERS); // TCP ones past the slots were dropped
  }, 60_000);

  it(`let an honest peer whose checks cannot reach us link once the answers holding all ${WEBRTC_PROBING_ANSWERS} probing slots get no answer to theirs`, async () => {
    const victims: StunVictims[] = [];
    for (let i = 0; i < WEBRTC_PROBING_ANSWERS; i++) victims.push(await stunVictims(`127.0.0.${i + 1}`, 1));
    const senders = (): number => victims.reduce((sum, victim) => sum + victim.senders(), 0);
    // Our candidates never reach the honest peer (as behind a NAT that drops what it did not ask for), and
    // it names no TCP candidate: only our UDP checks can link us, and they wait for a probing slot.
    let ours: ReturnType<typeof wrtcNegotiations> | undefined;
    const theirs = wrtcNegotiations(1, {
      dials: { total: 1, perVia: 1 },
      sendSignal: (_via, _remote, data: SignalData) => (udpOnly(data) === undefined || ours!.get('relay', 'honest')?.signal(udpOnly(data)!), true),
    });
    ours = wrtcNegotiations(WEBRTC_PROBING_ANSWERS + 1, {
      allowLoopbackCandidates: true,
      sendSignal: (_via, _remote, data: SignalData) => (data.type === 'answer' && theirs.get('relay', 'us')?.signal({ type: 'answer', sdp: data.sdp.replace(/a=candidate:[^\r\n]*\r\n/g, '') }), true),
    });
    const failures: Error[] = [];
    closers.push(() => {
      for (const victim of victims) victim.close();
      ours!.failAll(new TransportError('test over'));
      theirs.failAll(new TransportError('test over'));
    });
    const offer = await falseCredentialOffer();
    for (let i = 0; i < WEBRTC_PROBING_ANSWERS; i++) answer(ours, `attacker-${i}`, offerNaming(offer, `127.0.0.${i + 1}`, victims[i]!.ports[0]!), 60_000, (error) => failures.push(error));
    await waitFor(() => senders() === WEBRTC_PROBING_ANSWERS, 10_000, 'every probing slot taken');
    const started = Date.now();
    const linked = new Promise<WebRtcLink | Error>((resolve) => {
      ours!.start({ initiator: false, via: 'relay', remote: 'honest', clock: systemClock, timeoutMs: 10_000, onConnected: resolve, onFailed: resolve });
    });
    theirs.start({ initiator: true, via: 'relay', remote: 'us', clock: systemClock, timeoutMs: 10_000, onConnected: (link) => link.destroy() });
    const result = await linked;
    console.log(`honest peer needing our checks linked after ${Date.now() - started} ms behind ${WEBRTC_PROBING_ANSWERS} never-answered answers`);
    expect(result).not.toBeInstanceOf(Error);
    (result as WebRtcLink).destroy();
    // It got a slot freed as their checks went unanswered (before: only at the 5 s hold).
    expect(failures.length).toBeGreaterThan(0);
    for (const error of failures) expect(error.message).toContain('no answer to its ICE checks');
  }, 60_000);
});

/** `data` without TCP candidates (undefined: it was one): over TCP our checks take no probing slot, and would link us at once. */
function udpOnly(data: SignalData): SignalData | undefined {
  if (data.type === 'candidate') return / tcp /i.test(data.candidate.candidate) ? undefined : data;
  return { type: data.type, sdp: data.sdp.replace(/a=candidate:\S+ \d+ tcp [^\r\n]*\r\n/gi, '') };
}
