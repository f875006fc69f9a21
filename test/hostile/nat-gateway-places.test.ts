/**
 * A gateway chooses our external places: NAT-PMP grants any lease (down to 1 s, renewed at half of it)
 * and may map a new external port, or report a new external address, at each renewal; anyone on the
 * LAN can be the UPnP gateway. PEX declares each of our current addresses to the book before each
 * answer and each new peer, and the book remembered every place ever declared, for its whole life. Here
 * the node is real (a Switch with PEX and the NatAgent, peers over TCP on 127.0.0.1) and the gateway is
 * a PortMapper granting a 20 ms lease on a new external port each time (the 1 s lease, sped up).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { generateNodeKey } from '../../src/crypto/keys.js';
import { NatAgent } from '../../src/nat/nat-agent.js';
import type { Mapping, MapRequest, PortMapper } from '../../src/nat/port-mapper.js';
import { MAX_OUR_PLACES } from '../../src/pex/constants.js';
import { PEXAgent } from '../../src/pex/pex-agent.js';
import { startNode, stopAll } from '../helpers/nodes.js';
import { waitFor } from '../helpers/wait.js';
import { joinVictim, talk } from './churn-peers.js';
import type { Victim } from './harness.js';

afterEach(stopAll);

const EXTERNAL_IP = '8.8.4.7';
const LEASE_SECONDS = 0.02;

/** A gateway that moves our mapping to a new external port at every grant. */
class MovingGateway implements PortMapper {
  readonly kind = 'fake';
  nextPort = 30_000;
  current: number | undefined;

  async externalIp(): Promise<string> {
    return EXTERNAL_IP;
  }

  async map(request: MapRequest): Promise<Mapping> {
    this.current = this.nextPort++;
    return { protocol: request.protocol, externalPort: this.current, internalHost: '192.168.1.20', internalPort: request.internalPort, description: request.description, ttlSeconds: LEASE_SECONDS };
  }

  async unmap(): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {}
}

describe('a gateway moving our external place at every renewal', () => {
  it('the book remembers our most recent places only, and still refuses the current one as ours', { timeout: 30_000 }, async () => {
    const gateway = new MovingGateway();
    const pex = new PEXAgent({ allowLocal: true, ensurePeersIntervalMs: 60_000 });
    // A configured external address on a mappable host, so that the NatAgent maps its port (our
    // listener is on loopback, which no gateway can reach).
    const node = await startNode({
      externalAddresses: ['tcp://203.0.113.5:26656'],
      agents: { pex, nat: new NatAgent({ createMapper: () => gateway }) },
    });
    const victim = { sw: node.sw, id: node.key.nodeId, tcpAddress: node.address } as Victim;
    await waitFor(() => gateway.current !== undefined, 5000, 'the first mapping');
    const firstPort = gateway.current!;
    // Each new peer makes PEX declare our current addresses: a place the gateway moved us to since.
    const PEERS = 3 * MAX_OUR_PLACES;
    let placesSeen = 0;
    let lastSeen: number | undefined;
    for (let i = 0; i < PEERS; i++) {
      const key = generateNodeKey();
      const peer = talk(await joinVictim(victim, { key }));
      await waitFor(() => node.sw.getPeer(key.nodeId) !== undefined, 5000, 'peer admitted');
      const advertised = node.sw.addresses.find((address) => address.includes(`@${EXTERNAL_IP}:`));
      const port = advertised === undefined ? undefined : Number(advertised.split(':').at(-1));
      if (port !== undefined && port !== lastSeen) placesSeen++;
      lastSeen = port;
      peer.conn.destroy();
      await peer.closed;
    }
    const remembered = (pex.book as unknown as { admission: { ourLocations: Set<string> } }).admission.ourLocations;
    console.log(`gateway granted ${gateway.nextPort - firstPort} places, ${placesSeen} declared to the book while peers joined; book remembers ${remembered.size} of ours`);
    expect(placesSeen, 'places the gateway moved us to, declared to the book').toBeGreaterThan(MAX_OUR_PLACES + 16);
    // Before: one per place declared (over 150 here), for the book's life.
    expect(remembered.size).toBeLessThanOrEqual(MAX_OUR_PLACES);
    // Our listener and the place we hold now are still ours: made-up ids there are refused.
    pex.book.addOurAddresses(node.sw.addresses);
    const current = node.sw.addresses.find((address) => address.includes(`@${EXTERNAL_IP}:`))!;
    const madeUp = generateNodeKey().nodeId;
    expect(pex.book.tryAddAddress(current.replace(node.key.nodeId, madeUp), generateNodeKey().nodeId)).toBe('self');
    expect(pex.book.tryAddAddress(node.address.replace(node.key.nodeId, madeUp), generateNodeKey().nodeId)).toBe('self');
  });
});
