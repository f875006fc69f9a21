/**
 * A liar telling PEX another address of our persistent peer (a second listener of it; first seen with
 * another spelling of its address, a query the dial ignores, which the book no longer keeps), so that a
 * feeler, PEX's short probe closed as soon as it is up, is what connects us to that peer. Over real TCP.
 */
import { describe, expect, it } from 'vitest';
import { tcpTransport } from '../../platforms/node/tcp.js';
import type { Peer } from '../../src/switch/peer.js';
import { waitFor } from '../helpers/wait.js';
import { RogueAgent, response, startPexNode } from '../pex/pex-helpers.js';
import { cleanUpAfterEach } from './liar-helpers.js';
import { guardProcessFaults } from './raw-peer.js';

guardProcessFaults();
cleanUpAfterEach();

describe('a feeler reaching a persistent peer', () => {
  it('keeps the connection: a persistent peer is kept connected, whichever dial reached it', async () => {
    const kept = await startPexNode({ transports: [tcpTransport()], listen: 'tcp://127.0.0.1:0', pex: false, switchOptions: { listen: ['tcp://127.0.0.1:0', 'tcp://127.0.0.2:0'] } });
    const respelt = kept.sw.addresses[1]!;
    expect(respelt).toContain('@127.0.0.2:');
    const liar = await startPexNode({ transports: [tcpTransport()], listen: 'tcp://127.0.0.1:0', pex: false, agents: { rogue: new RogueAgent(() => [response([respelt])]) } });
    // Redials of the persistent peer wait a minute, and so do PEX rounds after the first: only a feeler
    // can connect it again within the test.
    const us = await startPexNode({
      transports: [tcpTransport()],
      listen: 'tcp://127.0.0.1:0',
      pex: { feelerIntervalMs: 100, ensurePeersIntervalMs: 60_000 },
      switchOptions: { persistentPeers: [kept.address], reconnect: { baseDelayMs: 60_000, maxDelayMs: 60_000 } },
    });
    await waitFor(() => us.sw.getPeer(kept.sw.nodeId) !== undefined, 3000, 'the persistent peer connected');
    const connections: Peer[] = [];
    us.sw.on('peer:connected', ({ peer }) => {
      if (peer.id === kept.sw.nodeId) connections.push(peer);
    });
    await us.sw.dial(liar.address);
    await waitFor(() => us.pex!.book.has(respelt), 3000, 'the liar told us the other spelling');
    // The persistent peer drops us (a restart); the next connection to it is the feeler's.
    await kept.sw.disconnect(kept.sw.getPeer(us.sw.nodeId)!);
    await waitFor(() => connections.length > 0, 5000, 'connected again');
    // Before: PEX closed it as a feeler before anyone heard of it (disconnected at once, the redial a
    // minute away: the app was without its persistent peer in between).
    expect(connections[0]!.isConnected).toBe(true);
    expect(us.pex!.stats().feelers).toBe(0);
  });
});
