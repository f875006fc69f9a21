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
import { answer, falseCredentialOffer, offerNaming, wrtcNegotiations } from '../helpers/crowded-address.js';
import { stopAll, type TestNode } from '../helpers/nodes.js';
import { stunVictims, type StunVictims } from '../helpers/stun-victims.js';
import { tcpVictim, type TcpVictim } from '../helpers/tcp-victims.js';
import { waitFor } from '../helpers/wait.js';
import { dialAll, falseOffers, startRelay, webrtcNode } from './relay-scene.js';

const ANSWERS = 32;
const closers: (() => void)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) close();
  await stopAll();
});
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('answers naming a spread of addresses that never answer', () => {
  it(`check ${WEBRTC_PROBING_ANSWERS} of ${ANSWERS} addresses at once; the others' candidates wait, and get the slots of answers that do not connect in ${WEBRTC_CROWDED_ADDRESS_HOLD_MS} ms`, async () => {
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
    await waitFor(() => senders() > 0, 10_000, 'a check at a victim');
    await sleep(2000);
    // Before: all 32 RTCPeerConnections checked theirs (~20 datagrams a second each: 646 a second in all).
    expect(senders()).toBe(WEBRTC_PROBING_ANSWERS);
    expect(failures.size).toBe(0);
    await waitFor(() => senders() === 2 * WEBRTC_PROBING_ANSWERS, 10_000, 'the waiting candidates checked');
    expect([...failures.keys()]).toEqual(Array.from({ length: WEBRTC_PROBING_ANSWERS }, (_, i) => i));
    expect([...failures.values()]).toMatchObject(Array(WEBRTC_PROBING_ANSWERS).fill({ detail: { reason: 'crowded-address' } }));
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
});
