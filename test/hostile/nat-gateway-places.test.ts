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
import { MAX_OUR_PLACES, OUR_PLACE_SWEEP_BURST } from '../../src/pex/constants.js';
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

/** A node with PEX and the NatAgent over `gateway`, and a Victim view of it for joinVictim. */
async function startNatNode(gateway: MovingGateway): Promise<{ node: Awaited<ReturnType<typeof startNode>>; pex: PEXAgent; victim: Victim }> {
  const pex = new PEXAgent({ allowLocal: true, ensurePeersIntervalMs: 60_000 });
  // A configured external address on a mappable host, so that the NatAgent maps its port (our
  // listener is on loopback, which no gateway can reach).
  const node = await startNode({
    externalAddresses: ['tcp://203.0.113.5:26656'],
    // The renewal floor and the gateway request ceiling (30 s, 30 a minute) lowered: the gateway's moves, sped up.
    agents: { pex, nat: new NatAgent({ createMapper: () => gateway, minRenewIntervalMs: 10, maxGatewayRequestsPerMinute: 100_000 }) },
  });
  await waitFor(() => gateway.current !== undefined, 5000, 'the first mapping');
  return { node, pex, victim: { sw: node.sw, id: node.key.nodeId, tcpAddress: node.address } as Victim };
}

/** A peer with a fresh key joins and hangs up (PEX declares our addresses as it arrives). */
async function joinAndLeave(victim: Victim): Promise<void> {
  const key = generateNodeKey();
  const peer = talk(await joinVictim(victim, { key }));
  await waitFor(() => victim.sw.getPeer(key.nodeId) !== undefined, 5000, 'peer admitted');
  peer.conn.destroy();
  await peer.closed;
}

describe('a gateway moving our external place at every renewal', () => {
  it('the book remembers our most recent places only, and still refuses the current one as ours', { timeout: 30_000 }, async () => {
    const gateway = new MovingGateway();
    const { node, pex, victim } = await startNatNode(gateway);
    const firstPort = gateway.current!;
    // Each new peer makes PEX declare our current addresses: a place the gateway moved us to since.
    const PEERS = 3 * MAX_OUR_PLACES;
    let placesSeen = 0;
    let lastSeen: number | undefined;
    for (let i = 0; i < PEERS; i++) {
      await joinAndLeave(victim);
      const advertised = node.sw.addresses.find((address) => address.includes(`@${EXTERNAL_IP}:`));
      const port = advertised === undefined ? undefined : Number(advertised.split(':').at(-1));
      if (port !== undefined && port !== lastSeen) placesSeen++;
      lastSeen = port;
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

  it('a book of 16,000 addresses is swept for our new places a few times, not at every move (each sweep parses every entry)', { timeout: 60_000 }, async () => {
    const gateway = new MovingGateway();
    const { pex, victim } = await startNatNode(gateway);
    // Hearsay from 800 sources in 200 networks, 20 addresses each.
    const ids = Array.from({ length: 2000 }, () => generateNodeKey().nodeId);
    let n = 0;
    for (let source = 0; source < 800; source++) {
      const from = `tcp://${ids[source]}@${1 + (source % 200)}.${10 + (source >> 3)}.1.1:26656`;
      const addresses = Array.from({ length: 20 }, (_, i) => `tcp://${ids[n++ % ids.length]}@${11 + (n % 200)}.${source % 256}.${source >> 8}.${i + 1}:${20_000 + (n % 30_000)}`);
      pex.book.tryAddAddresses(addresses, from, 1000);
    }
    expect(pex.book.size()).toBeGreaterThan(15_000);
    // Each declaration that sweeps blocks the event loop for the whole pass (~20 ms here); the others are cheap.
    const declare = pex.book.addOurAddresses.bind(pex.book);
    let sweeps = 0;
    pex.book.addOurAddresses = (addresses) => {
      const started = performance.now();
      declare(addresses);
      if (performance.now() - started > 5) sweeps++;
    };
    const firstPort = gateway.current!;
    // Until the gateway has moved us over 30 times (its renewals are timers: a loaded machine gets fewer
    // in 48 rounds, 29 once in CI), bounded.
    for (let i = 0; i < 200 && gateway.nextPort - firstPort <= 30; i++) await joinAndLeave(victim);
    console.log(`gateway moved us ${gateway.nextPort - firstPort} times; ${sweeps} declarations swept the book`);
    expect(gateway.nextPort - firstPort).toBeGreaterThan(30);
    // Before: one sweep per move seen (~40 here, 375 ms each for a book of 65,536: twice a second per port).
    expect(sweeps).toBeLessThanOrEqual(OUR_PLACE_SWEEP_BURST + 2);
  });
});
