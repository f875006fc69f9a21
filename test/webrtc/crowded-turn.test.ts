/**
 * Peers relayed by one TURN server all name its address (their relay candidates, one port each): more
 * of them than may hold candidates at one address at once (CandidateTargets) negotiating with one node
 * at once still all link, the later ones when the earlier ones connect and free their slots. A real
 * coturn on this machine's address; every RTCPeerConnection (@roamhq/wrtc) relay-only.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WEBRTC_NEGOTIATIONS_PER_REMOTE_ADDRESS } from '../../src/webrtc/remote-candidates.js';
import type { WebRtcRoute } from '../../src/webrtc/negotiations.js';
import { webrtcTransport } from '../../platforms/node/webrtc.js';
import { ownAddress } from '../helpers/crowded-address.js';
import { startLocalCoturn, type LocalCoturn } from '../helpers/local-coturn.js';
import { stopAll, type TestNode } from '../helpers/nodes.js';
import { rtcNode, startRelay } from '../hostile/webrtc-nodes.js';

/** Three times as many as may hold candidates at the TURN server's address at once, through two relays. */
const RELAYED_PEERS = 3 * WEBRTC_NEGOTIATIONS_PER_REMOTE_ADDRESS;
let coturn: LocalCoturn | undefined;
afterEach(async () => {
  await stopAll();
  coturn?.stop();
  coturn = undefined;
});

describe('peers relayed by one TURN server', () => {
  it(`link with one node all at once: ${RELAYED_PEERS} dials naming the TURN server's address, all connected over it`, async () => {
    coturn = await startLocalCoturn(ownAddress());
    const routes: WebRtcRoute[] = [];
    const relayOnly = (onRoute?: (route: WebRtcRoute) => void) => webrtcTransport({ iceServers: [coturn!.turn], rtcConfig: { iceTransportPolicy: 'relay' }, onRoute });
    const relays = [await startRelay(), await startRelay()];
    const target = await rtcNode(relays[0]!, relayOnly((route) => routes.push(route)));
    await target.sw.dial(relays[1]!.address);
    const peers: TestNode[] = [];
    for (let i = 0; i < RELAYED_PEERS; i++) peers.push(await rtcNode(relays[i % 2]!, relayOnly()));
    const dials = peers.map((peer, i) => peer.sw.dial(`webrtc://${target.key.nodeId}?via=${relays[i % 2]!.key.nodeId}`));
    const outcomes = await Promise.allSettled(dials);
    expect(outcomes.map((outcome) => (outcome.status === 'fulfilled' ? outcome.value.transport : String(outcome.reason)))).toEqual(Array(RELAYED_PEERS).fill('webrtc'));
    for (const peer of peers) expect(target.sw.getPeer(peer.key.nodeId)?.isConnected).toBe(true);
    // Over TURN at both ends: each selected pair joins two of coturn's relayed addresses.
    const { min, max } = coturn.relayPorts;
    const overTurn = (address: string | undefined, port: number | undefined): boolean => address === ownAddress() && port !== undefined && port >= min && port <= max;
    expect(routes.filter((route) => overTurn(route.localAddress, route.localPort) && overTurn(route.remoteAddress, route.remotePort))).toHaveLength(RELAYED_PEERS);
  }, 90_000);
});
