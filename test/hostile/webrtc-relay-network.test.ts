/**
 * WebRTC peers are grouped (inbound eviction, pending pools, peerNetworkGroup) by the relay that
 * introduced them. Grouped by the relay's id, a host of many keys acting as relays (one key each, keys
 * are free) made a network per key: each WebRTC newcomer came from a group of nobody and pushed out an
 * honest inbound peer of the busiest network. They are now grouped by the relay's own network (its
 * remote address's /16), so that host is one network, relays and WebRTC peers together.
 *
 * The relays and the honest peers are real TCP connections from loopback addresses of their own
 * networks (127.x.0.1: all of 127/8 is loopback on Linux). The WebRTC links are in-memory links named
 * as the WebRTC transport names them (`webrtc://<id>?via=<relay>`): the grouping reads only that name
 * and the relay's connection, and a real negotiation (tested in test/webrtc) would add nothing here.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { generateNodeKey } from '../../src/crypto/keys.js';
import { peerNetworkGroup } from '../../src/switch/inbound-eviction.js';
import type { Switch } from '../../src/switch/switch.js';
import { createMemoryLinkPair } from '../../src/transport/memory.js';
import type { Link } from '../../src/transport/link.js';
import type { Transport } from '../../src/transport/transport.js';
import { tcpTransport } from '../../platforms/node/tcp.js';
import { startNode, stopAll } from '../helpers/nodes.js';
import { tcpFrom } from '../helpers/tcp-from.js';
import { waitFor } from '../helpers/wait.js';

const MAX_INBOUND = 8;
const HONEST_NETWORKS = ['127.2.0.1', '127.3.0.1'];
const ATTACKER_HOST = '127.5.0.1';

afterEach(async () => {
  await stopAll();
});

/**
 * The WebRTC transport as the Switch sees it: the victim's side accepts links named
 * `webrtc://<dialler>?via=<relay>`; a dialler's side hands them over (the relay itself is not involved).
 */
function webrtcStandIn(): { victim: Transport; dialler(id: string): Transport } {
  let accept: ((link: Link) => void) | undefined;
  return {
    victim: {
      protocols: ['webrtc'],
      dial: () => Promise.reject(new Error('not used')),
      listen: (address, onLink) => {
        accept = onLink;
        return Promise.resolve({ addresses: [address], close: () => Promise.resolve() });
      },
    },
    dialler: (id) => ({
      protocols: ['webrtc'],
      dial: (address) => {
        const [atVictim, atDialler] = createMemoryLinkPair({ names: [`webrtc://${id}?via=${address.params['via']}`, `webrtc://${address.nodeId}`], transport: 'webrtc' });
        accept!(atVictim);
        return Promise.resolve(atDialler);
      },
    }),
  };
}

/** A node dialling the victim over TCP from `localAddress`; resolves with its id once the victim holds it as a peer. */
async function joinFrom(victim: Switch, victimAddress: string, localAddress: string): Promise<string> {
  const node = await startNode({ transports: [tcpFrom(localAddress)], listen: [], reconnect: { baseDelayMs: 60_000, maxDelayMs: 60_000 } });
  await node.sw.dial(victimAddress);
  await waitFor(() => victim.getPeer(node.key.nodeId) !== undefined, 5000, 'peer joined');
  return node.key.nodeId;
}

/** A page dialling the victim over WebRTC through `relay`; resolves whether it got in. */
async function webrtcJoin(victim: Switch, webrtc: ReturnType<typeof webrtcStandIn>, relay: string): Promise<boolean> {
  const key = generateNodeKey();
  const page = await startNode({ identity: key, transports: [webrtc.dialler(key.nodeId)], listen: [], reconnect: { baseDelayMs: 60_000, maxDelayMs: 60_000 } });
  try {
    await page.sw.dial(`webrtc://${victim.nodeId}?via=${relay}`);
  } catch {
    return false;
  }
  await waitFor(() => victim.getPeer(key.nodeId) !== undefined || page.sw.peers.length === 0, 5000, 'page settled');
  return victim.getPeer(key.nodeId) !== undefined;
}

/** A node taking TCP on 127.0.0.1 and WebRTC links, with MAX_INBOUND inbound slots. */
async function startVictim(webrtc: ReturnType<typeof webrtcStandIn>): Promise<{ sw: Switch; address: string }> {
  const key = generateNodeKey();
  const node = await startNode({ identity: key, transports: [tcpTransport(), webrtc.victim], listen: ['tcp://127.0.0.1:0', `webrtc://${key.nodeId}`], maxInbound: MAX_INBOUND });
  return { sw: node.sw, address: node.sw.addresses.find((a) => a.startsWith('tcp://'))! };
}

describe('WebRTC peers introduced by relays of one host', () => {
  it('count in that host network: relay keys taking turns on one host push out no honest inbound peer', async () => {
    const webrtc = webrtcStandIn();
    const victim = await startVictim(webrtc);
    const honest: string[] = [];
    for (const network of HONEST_NETWORKS) {
      for (let i = 0; i < 3; i++) honest.push(await joinFrom(victim.sw, victim.address, network));
    }
    // The attacker's host: a fresh relay key connects over TCP, introduces a page, and leaves; again and again.
    let admitted = 0;
    for (let round = 0; round < 8; round++) {
      const relay = await joinFrom(victim.sw, victim.address, ATTACKER_HOST).catch(() => undefined);
      if (relay === undefined) continue;
      if (await webrtcJoin(victim.sw, webrtc, relay)) admitted += 1;
      victim.sw.getPeer(relay)?.connection.destroy();
      await waitFor(() => victim.sw.getPeer(relay) === undefined, 5000, 'relay gone');
    }
    const honestLeft = honest.filter((id) => victim.sw.getPeer(id) !== undefined).length;
    const groups = victim.sw.peers.map((peer) => peerNetworkGroup(peer));
    console.log(`honest inbound peers left: ${honestLeft} of ${honest.length}; pages admitted: ${admitted}; groups: ${JSON.stringify(groups)}`);
    expect(honestLeft).toBe(honest.length);
    // Every page counts in the attacker host's network, where its relay was.
    const pages = victim.sw.peers.filter((p) => p.address.startsWith('webrtc://'));
    expect(pages.length).toBe(admitted);
    for (const page of pages) expect(peerNetworkGroup(page)).toBe('ipv4:127.5');
  });

  it("keeps a page in its relay's network after the relay leaves; a page whose relay is not connected shares one group", async () => {
    const webrtc = webrtcStandIn();
    const victim = await startVictim(webrtc);
    const relay = await joinFrom(victim.sw, victim.address, ATTACKER_HOST);
    expect(await webrtcJoin(victim.sw, webrtc, relay)).toBe(true);
    victim.sw.getPeer(relay)!.connection.destroy();
    await waitFor(() => victim.sw.getPeer(relay) === undefined, 5000, 'relay gone');
    const pages = (): ReturnType<Switch['getPeer']>[] => victim.sw.peers.filter((p) => p.address.startsWith('webrtc://'));
    expect(pages().map((p) => peerNetworkGroup(p!))).toEqual(['ipv4:127.5']);
    // Through relay ids nobody connected: one shared group, whatever the id.
    expect(await webrtcJoin(victim.sw, webrtc, generateNodeKey().nodeId)).toBe(true);
    expect(await webrtcJoin(victim.sw, webrtc, generateNodeKey().nodeId)).toBe(true);
    expect(pages().map((p) => peerNetworkGroup(p!)).sort()).toEqual(['ipv4:127.5', 'via:?', 'via:?']);
  });
});
