/**
 * Peers relayed by one TURN server all name its address (their relay candidates, one port each). When it
 * is the node's own TURN server too (the one that relays its own candidates), the address takes no turns
 * (CandidateTargets.noteOwnRelay): more peers than may hold candidates at one address at once link with
 * one node at once, and offers naming the address that never connect, through relays of the honest
 * relay's own network, delay no one. (A TURN server of the peers' alone takes turns: the waiting, the
 * 5 s hold and the hand-on by relay network are in crowded-address.test.ts and candidate-targets.test.ts.)
 * A real coturn on this machine's address; every RTCPeerConnection of the honest nodes (@roamhq/wrtc)
 * relay-only.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WEBRTC_ANSWERS_BURST_PER_NETWORK } from '../../src/webrtc/constants.js';
import { WEBRTC_NEGOTIATIONS_PER_REMOTE_ADDRESS } from '../../src/webrtc/candidate-targets.js';
import type { WebRtcRoute } from '../../src/webrtc/negotiations.js';
import { ownAddress } from '../helpers/crowded-address.js';
import { startLocalCoturn, type LocalCoturn } from '../helpers/local-coturn.js';
import { stopAll, type TestNode } from '../helpers/nodes.js';
import { waitFor } from '../helpers/wait.js';
import { dialAll, falseOffers, startRelay, webrtcNode } from './relay-scene.js';

let coturn: LocalCoturn | undefined;
afterEach(async () => {
  await stopAll();
  coturn?.stop();
  coturn = undefined;
});

/** A node whose RTCPeerConnections gather only relayed candidates, from `turn`, connected to `relays`. */
function relayOnlyNode(turn: LocalCoturn['turn'], relays: TestNode[], onRoute?: (route: WebRtcRoute) => void): Promise<TestNode> {
  return webrtcNode({ iceServers: [turn], rtcConfig: { iceTransportPolicy: 'relay' }, onRoute }, relays);
}

describe('peers relayed by one TURN server', () => {
  it(`link with one node all at once: ${3 * WEBRTC_NEGOTIATIONS_PER_REMOTE_ADDRESS} dials naming the TURN server's address, all connected over it`, async () => {
    const peersCount = 3 * WEBRTC_NEGOTIATIONS_PER_REMOTE_ADDRESS;
    coturn = await startLocalCoturn(ownAddress());
    const routes: WebRtcRoute[] = [];
    // Relays on two hosts: links through one host's relays handshake at most 8 at once (the Switch's
    // maxPendingInboundPerHost), and over our own TURN server's address all 12 connect at once.
    const relays = [await startRelay('127.0.0.1'), await startRelay('127.0.0.2')];
    const target = await relayOnlyNode(coturn.turn, relays, (route) => routes.push(route));
    const peers: TestNode[] = [];
    for (let i = 0; i < peersCount; i++) peers.push(await relayOnlyNode(coturn.turn, [relays[i % 2]!]));
    // Before waiting candidates were handed on (dropped over the cap instead): 8 of 12 timed out.
    expect(await dialAll(peers, target, (i) => relays[i % 2]!)).toEqual(Array(peersCount).fill('webrtc'));
    for (const peer of peers) expect(target.sw.getPeer(peer.key.nodeId)?.isConnected).toBe(true);
    // Over TURN: each selected pair has one of coturn's relayed addresses at the node's end (relay-only at
    // the other end too; a remote end learnt from a check before its candidate came is not reported).
    const { min, max } = coturn.relayPorts;
    const overTurn = (): number => routes.filter((route) => route.localAddress === ownAddress() && route.localPort! >= min && route.localPort! <= max).length;
    await waitFor(() => overTurn() === peersCount, 5000, 'every route reported, over TURN');
  }, 90_000);

  // The attackers' relays on two hosts of 127.0; the honest one in another network (127.2), or on a third
  // host of theirs, where network fairness (CandidateTargets hands slots on by relay network) does not set
  // it apart.
  it.each([
    ['another network', '127.2.0.1'],
    ["the attackers' own network", '127.0.0.3'],
  ])(`link while offers through relays, naming the TURN server's address and never connecting, come first through relays on other hosts, of %s: the node's own TURN server takes no turns`, async (_where, honestHost) => {
    coturn = await startLocalCoturn(ownAddress());
    const attackerRelays = [await startRelay('127.0.0.1'), await startRelay('127.0.0.2')];
    const honestRelay = await startRelay(honestHost);
    const target = await relayOnlyNode(coturn.turn, [...attackerRelays, honestRelay]);
    // Offers with ICE credentials no check satisfies, each naming another port of the TURN server's
    // address (above its allocations' range). As many as the network's answer burst takes, less the
    // honest peers' and the one token a host answered already leaves to others (ConnectionAllowance):
    // 12, 8 of them waiting behind 4 holders, for 3 honest peers.
    const honestPeers = WEBRTC_NEGOTIATIONS_PER_REMOTE_ADDRESS - 1;
    const attackers = WEBRTC_ANSWERS_BURST_PER_NETWORK - honestPeers - 1;
    const { max } = coturn.relayPorts;
    await falseOffers(attackerRelays, target, attackers, (i) => ({ address: ownAddress(), port: max + 1 + i }));
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const peers: TestNode[] = [];
    for (let i = 0; i < honestPeers; i++) peers.push(await relayOnlyNode(coturn.turn, [honestRelay]));
    // Before our own TURN server's address was exempt from the cap: through another network they linked
    // (its peers got the next slots, 5 s on); through the attackers' own network the 8 waiting offers
    // came first (oldest first), 5 s for each 4, and 3 of 3 honest dials timed out (10 s).
    expect(await dialAll(peers, target, () => honestRelay)).toEqual(Array(honestPeers).fill('webrtc'));
  }, 90_000);
});
