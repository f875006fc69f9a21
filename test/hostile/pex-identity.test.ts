/**
 * Identity lies in PEX: a peer speaking for another node id. Anyone may tell us addresses for any id
 * (hearsay); only the node itself, or a connection we made to it, is first-hand. A liar must not be
 * able to keep a node's real addresses out of our book, nor have us vouch for the ones it made up.
 * Real TCP on 127.0.0.1 (the victim's book allows local addresses, standing in for public ones).
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { decodePexMessage, encodePexMessage } from '../../src/pex/pex-messages.js';
import { frameLinkMessage } from '../../src/switch/link-messages.js';
import { PROTOCOL_VERSION, type NodeInfo } from '../../src/switch/node-info.js';
import { encodeMessage } from '../../src/wire/codec.js';
import { MAX_ADDRESSES_PER_NODE_ID, PEX_CHANNEL_ID } from '../../src/pex/constants.js';
import { HANDSHAKE_MAGIC, HANDSHAKE_VERSION, X25519_PUBLIC_KEY_BYTES } from '../../src/crypto/constants.js';
import { generateNodeKey } from '../../src/crypto/keys.js';
import { waitFor } from '../helpers/wait.js';
import { connectAttacker, startHonest, startVictim, stopHostileNodes, type Attacker, type Victim } from './harness.js';
import { guardProcessFaults, startMaliciousAcceptor, startProxy, tcpPort } from './raw-peer.js';

afterEach(stopHostileNodes);
guardProcessFaults();

/** Makes the victim ask the attacker for addresses, answers with `addresses`, waits until they are taken. */
async function tellVictim(victim: Victim, attacker: Attacker, addresses: string[]): Promise<void> {
  expect(victim.pex.requestAddresses(attacker.onVictim()!), 'victim asks the attacker').toBe(true);
  await waitFor(() => attacker.agent.messages.some((m) => m.channelId === PEX_CHANNEL_ID && decodePexMessage(m.message).type === 'pexRequest'), 2000, 'pexRequest');
  const taken = new Promise<number>((resolve) => victim.pex.on('addresses', ({ added }) => resolve(added)));
  await attacker.peer.send(PEX_CHANNEL_ID, encodePexMessage({ type: 'pexResponse', addresses }));
  expect(await taken, 'made-up addresses taken as hearsay').toBe(addresses.length);
}

/** Addresses for `nodeId` on ports where nobody is (a third party's host, in real life). */
const madeUpAddresses = (nodeId: string, count: number): string[] =>
  Array.from({ length: count }, (_, i) => `tcp://${nodeId}@127.0.0.1:${1 + ((randomBytes(2).readUInt16BE() + i) % 60000)}`);

describe('PEX identity lies', () => {
  it("hearsay filling a node id's address slots does not keep out the node's own address when it connects", async () => {
    const victim = await startVictim({ pex: { allowLocal: true } });
    const node = await startHonest('tcp://127.0.0.1:0');
    const attacker = await connectAttacker(victim);
    const lies = madeUpAddresses(node.id, MAX_ADDRESSES_PER_NODE_ID);
    await tellVictim(victim, attacker, lies);
    expect(victim.pex.book.entries().filter((entry) => entry.nodeId === node.id)).toHaveLength(MAX_ADDRESSES_PER_NODE_ID);

    await node.sw.dial(victim.tcpAddress);
    await waitFor(() => victim.sw.getPeer(node.id) !== undefined, 3000, 'node connected to the victim');
    // Before: refused as 'too-many-addresses' until every made-up one had failed three dials.
    expect(victim.pex.book.has(node.address), "the node's own address is in the book").toBe(true);
    expect(victim.pex.book.entries().filter((entry) => entry.nodeId === node.id)).toHaveLength(MAX_ADDRESSES_PER_NODE_ID);
  });

  it("a peer's pexResponse naming its own id on another host than it connects from is hearsay, as in its NodeInfo", async () => {
    const victim = await startVictim({ pex: { allowLocal: true } });
    const attacker = await connectAttacker(victim);
    const ownHost = `tcp://${attacker.id}@127.0.0.1:7002`;
    const otherHost = [`tcp://${attacker.id}@127.0.0.2:7001`, `tcp://${attacker.id}@127.0.0.3:7001`];
    await tellVictim(victim, attacker, [ownHost, ...otherHost]);
    const firstHand = victim.pex.book.sampleFirstHand(1000);
    expect(firstHand, 'a claim on the host it connects from').toContain(ownHost);
    // Before: first-hand (the source named the same node), at the front of every PEX answer we give:
    // the NodeInfo rule (lying-node-info.test.ts) was one pexResponse away from a reflector again.
    for (const address of otherHost) {
      expect(victim.pex.book.get(address), `${address} kept`).toBeDefined();
      expect(firstHand, `${address} is not first-hand`).not.toContain(address);
    }
  });

  it('a claim on the IPv4 host a peer connects from is first-hand on a dual-stack listener too (::ffff:a.b.c.d)', async () => {
    // A listener on an IPv6 socket (`[::]`, here its loopback-only stand-in) sees IPv4 peers as
    // ::ffff:a.b.c.d: the host it reaches them at is the IPv4 they claim, in another spelling.
    const victim = await startVictim({ pex: { allowLocal: true }, switchOptions: { listen: ['tcp://[::ffff:127.0.0.1]:0'] } });
    const attacker = await connectAttacker(victim);
    expect(victim.sw.getPeer(attacker.id)!.address, 'seen at the mapped address').toMatch(/^\[::ffff:127\.0\.0\.1\]:/);
    const ownHost = `tcp://${attacker.id}@127.0.0.1:7002`;
    const otherHost = `tcp://${attacker.id}@127.0.0.2:7001`;
    await tellVictim(victim, attacker, [ownHost, otherHost]);
    const firstHand = victim.pex.book.sampleFirstHand(1000);
    // Before: hearsay, as a claim on a foreign host: every IPv4 node connecting to a dual-stack listener
    // lost its first-hand place (the front of our PEX answers) to whatever others said about it.
    expect(firstHand, 'a claim on the host it connects from').toContain(ownHost);
    expect(firstHand, 'a claim on another host').not.toContain(otherHost);
  });

  it('connecting to a node at an address not in the book never marks a made-up address of its id as tried', async () => {
    const victim = await startVictim({ pex: { allowLocal: true } });
    const node = await startHonest('tcp://127.0.0.1:0');
    const attacker = await connectAttacker(victim);
    const [lie] = madeUpAddresses(node.id, 1);
    await tellVictim(victim, attacker, [lie!]);

    // The node is reached through a port forward (a NAT, a proxy, a DNS name): an address it does not list.
    const forward = await startProxy(tcpPort(node.address));
    try {
      const dialled = `tcp://${node.id}@127.0.0.1:${forward.port}`;
      await victim.sw.dial(dialled);
      // The node's own address (from its NodeInfo) is what tells us the victim's PEX agent has seen the peer.
      await waitFor(() => victim.pex.book.has(node.address), 3000, 'the node known to PEX');
      // Before: the made-up address became tried and first-hand, at the front of every PEX answer we give.
      expect(victim.pex.book.get(lie!), 'the made-up address').toMatchObject({ bucketType: 'new', lastSuccess: 0 });
      expect(victim.pex.book.get(node.address), 'an address we did not reach it at either').toMatchObject({ bucketType: 'new', lastSuccess: 0 });
    } finally {
      await forward.close();
    }
  });

  it("whoever answers at a made-up address of a node with another protocol version's hello does not get that node banned", async () => {
    const victim = await startVictim({ pex: { allowLocal: true } });
    // An honest node id, and a listener at the attacker's place that answers any hello with a newer
    // version's: no key, no proof of being anyone.
    const honestId = generateNodeKey().nodeId;
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.write(Uint8Array.from([...HANDSHAKE_MAGIC, HANDSHAKE_VERSION + 1, ...new Uint8Array(X25519_PUBLIC_KEY_BYTES).fill(9)]));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const lie = `tcp://${honestId}@127.0.0.1:${(server.address() as net.AddressInfo).port}`;
      expect(victim.pex.book.addAddress(lie, 'tcp://127.0.0.9:1')).toBe(true);
      victim.pex.ensurePeers();
      await waitFor(() => victim.pex.stats().dialFailures > 0, 3000, 'the PEX dial failed');
      // Before: the node id was banned from the book for banMs (all its addresses dropped, refused from
      // then on) on the word of a stranger at an address anyone could have made up for it.
      expect(victim.pex.book.isBanned(honestId), 'the node is banned').toBe(false);
      expect(victim.pex.book.has(lie), 'the address itself is useless, so dropped').toBe(false);
      expect(victim.pex.book.addAddress(`tcp://${honestId}@127.0.0.1:7005`, 'tcp://127.0.0.9:1'), 'its real address is still welcome').toBe(true);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('a peer we dial that refuses us as "a connection to itself" is not taken for one of our own places (ERR_HANDSHAKE)', async () => {
    const victim = await startVictim({ pex: { allowLocal: true } });
    const liar = await startMaliciousAcceptor((secure) => {
      const info: NodeInfo = { id: secure.localNodeId, network: victim.sw.options.network, protocolVersion: PROTOCOL_VERSION, channels: [PEX_CHANNEL_ID], recvMessageCapacities: [1024], listenAddresses: [], moniker: 'liar', software: 'evil/1.0.0' };
      secure.write(frameLinkMessage(encodeMessage(info)));
      secure.write(frameLinkMessage(encodeMessage({ accept: false, code: 'ERR_SELF_CONNECTION', reason: 'you are me' })));
    });
    try {
      expect(victim.pex.book.addAddress(liar.address, liar.address)).toBe(true);
      await expect(victim.sw.dial(liar.address)).rejects.toMatchObject({ code: 'ERR_HANDSHAKE' });
      // The PEX dialer judges the same refusal.
      victim.pex.ensurePeers();
      await waitFor(() => victim.pex.stats().dialFailures > 0, 3000, 'the PEX dial failed');
      // Before: the liar's place became one of ours (refused from then on, the whole book swept for it).
      expect(victim.pex.book.isOurAddress(liar.address), 'taken for our own address').toBe(false);
      expect(victim.pex.book.get(liar.address), 'the address backs off like any failed one').toMatchObject({ attempts: 1 });
    } finally {
      await liar.close();
    }
  });
});
