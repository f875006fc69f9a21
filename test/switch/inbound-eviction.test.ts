import { describe, expect, it } from 'vitest';
import { inboundHostGroup, peerNetworkGroup, pickInboundToEvict, type EvictionCandidate } from '../../src/switch/inbound-eviction.js';
import type { Peer } from '../../src/switch/peer.js';

const RELAY = 'ab'.repeat(20);

/** Only what the rule reads of a Peer: its id, when it connected, whether it is persistent. */
function candidate(id: string, connectedAtMonotonic: number, group: string | undefined, persistent = false): EvictionCandidate {
  return { peer: { id, connectedAtMonotonic, persistent } as unknown as Peer, group };
}

const ids = (peer: Peer | undefined): string | undefined => peer?.id;
const isPersistent = (peer: Peer): boolean => peer.persistent;

describe('inboundHostGroup', () => {
  it("groups IPv4 by /16, IPv6 by /32, WebRTC by the network of the relay it came through, and nothing else", () => {
    expect(inboundHostGroup('203.0.113.9:4000')).toBe(inboundHostGroup('203.0.7.1:1'));
    expect(inboundHostGroup('203.0.113.9:4000')).not.toBe(inboundHostGroup('203.1.113.9:4000'));
    expect(inboundHostGroup('[::ffff:203.0.113.9]:4000')).toBe(inboundHostGroup('203.0.1.1:1'));
    expect(inboundHostGroup('[2001:db8:1:2:3:4:5:6]:4000')).toBe(inboundHostGroup('[2001:db8:ffff::1]:1'));
    expect(inboundHostGroup('[2001:db8::1]:4000')).not.toBe(inboundHostGroup('[2001:db9::1]:4000'));
    // WebRTC: the network of the relay, a connected peer; one shared group while the relay is not connected
    const relays = (id: string): { host: string; network: string } | undefined => (id === RELAY ? { host: '198.51.7.1', network: 'ipv4:198.51' } : undefined);
    expect(inboundHostGroup(`webrtc://${'cd'.repeat(20)}?via=${RELAY.toUpperCase()}`, relays)).toBe('ipv4:198.51');
    expect(inboundHostGroup(`webrtc://${'cd'.repeat(20)}?x=1&via=${RELAY}`, relays)).toBe('ipv4:198.51');
    expect(inboundHostGroup(`webrtc://${'cd'.repeat(20)}?via=${'ef'.repeat(20)}`, relays)).toBe('via:?');
    for (const address of ['memory://a', `webrtc://${'cd'.repeat(20)}`, `webrtc://x?via=`, `webrtc://x?via=zz`, `webrtc://x?novia=${RELAY}`]) {
      expect(inboundHostGroup(address)).toBeUndefined();
    }
  });
});

describe('peerNetworkGroup', () => {
  const peer = (direction: 'inbound' | 'outbound', address: string): Peer => ({ direction, address }) as unknown as Peer;
  const ID = 'cd'.repeat(20);

  it('is the network of an inbound link, or of the address we dialled, the same either way', () => {
    expect(peerNetworkGroup(peer('inbound', '127.2.0.1:4000'))).toBe('ipv4:127.2');
    expect(peerNetworkGroup(peer('outbound', `tcp://${ID}@127.2.9.9:26656`))).toBe('ipv4:127.2');
    expect(peerNetworkGroup(peer('outbound', `ws://${ID}@[2001:db8:1::2]:80/p`))).toBe(peerNetworkGroup(peer('inbound', '[2001:db8:ffff::1]:1')));
    expect(peerNetworkGroup(peer('outbound', `webrtc://${ID}?via=${RELAY}`))).toBe(peerNetworkGroup(peer('inbound', `webrtc://${ID}?via=${RELAY}`)));
    // In-memory inbound links name no network; a dialled memory:// address is its node's own.
    expect(peerNetworkGroup(peer('inbound', 'memory'))).toBeUndefined();
    expect(peerNetworkGroup(peer('outbound', `memory://${ID}@node-1`))).toBe('memory:node-1');
  });
});

describe('pickInboundToEvict', () => {
  it('takes the youngest of the largest group, only for a newcomer from a group at least two smaller', () => {
    const inbound = [candidate('a1', 1, 'A'), candidate('b1', 2, 'B'), candidate('a2', 3, 'A'), candidate('a3', 4, 'A'), candidate('c1', 5, 'C')];
    expect(ids(pickInboundToEvict(inbound, 'D', 8, isPersistent))).toBe('a3');
    expect(ids(pickInboundToEvict(inbound, 'B', 8, isPersistent))).toBe('a3'); // B holds 1, A 3
    expect(pickInboundToEvict(inbound, 'A', 8, isPersistent)).toBeUndefined(); // its own group is the largest
    expect(pickInboundToEvict(inbound.filter((c) => c.peer.id !== 'a3'), 'B', 8, isPersistent)).toBeUndefined(); // 2 vs 1: no swap
  });

  it('keeps the oldest peers, one per group, up to a quarter of maxInbound, and persistent peers', () => {
    const inbound = [candidate('a1', 1, 'A'), candidate('a2', 2, 'A'), candidate('b1', 3, 'B'), candidate('a3', 4, 'A', true)];
    // maxInbound 8: two protected (a1, the oldest of A, and b1, the oldest of B); a3 is persistent.
    expect(ids(pickInboundToEvict(inbound, 'C', 8, isPersistent))).toBe('a2');
    const onlyProtected = [candidate('a1', 1, 'A'), candidate('a2', 2, 'A', true), candidate('a3', 3, 'A', true)];
    expect(pickInboundToEvict(onlyProtected, 'C', 4, isPersistent)).toBeUndefined();
  });

  it('between equally large groups, takes the youngest of them; peers of no known group are groups of one', () => {
    const inbound = [candidate('a1', 1, 'A'), candidate('b1', 2, 'B'), candidate('a2', 3, 'A'), candidate('b2', 4, 'B'), candidate('m1', 5, undefined), candidate('m2', 6, undefined)];
    expect(ids(pickInboundToEvict(inbound, 'C', 4, isPersistent))).toBe('b2');
    expect(ids(pickInboundToEvict(inbound, undefined, 4, isPersistent))).toBe('b2');
    const unknownOnly = [candidate('m1', 1, undefined), candidate('m2', 2, undefined), candidate('m3', 3, undefined)];
    expect(pickInboundToEvict(unknownOnly, undefined, 3, isPersistent)).toBeUndefined();
  });
});
