/**
 * HostSlots, the per-host and per-network counts behind the pending pools (the Switch's handshakes, the
 * ws server's upgrades, the relay's HTTP port): who a remote endpoint stands for, and that the counts
 * come back to nothing whatever order slots are taken and given in.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HostSlots, UNATTRIBUTED_RELAY_HOLDER, slotHolderOf } from '../../src/transport/host-slots.js';

describe('slotHolderOf', () => {
  it('an IPv6 address with an IPv4 inside (NAT64, 6to4, Teredo) is that IPv4\'s host, as it is its network', () => {
    // Two IPv4 peers of different networks reaching an IPv6-only node through a NAT64/SIIT prefix.
    const first = slotHolderOf('[64:ff9b::102:304]:5000');
    const second = slotHolderOf('[64:ff9b::908:706]:5000');
    expect(first).toEqual({ host: '1.2.3.4', network: 'ipv4:1.2' });
    expect(second).toEqual({ host: '9.8.7.6', network: 'ipv4:9.8' });
    expect(slotHolderOf('[2002:102:304::1]:5000')).toEqual({ host: '1.2.3.4', network: 'ipv4:1.2' });
    // Teredo: the client's IPv4 is the last 32 bits, inverted.
    expect(slotHolderOf('[2001:0:4136:e378:8000:63bf:fefd:fcfb]:5000')).toEqual({ host: '1.2.3.4', network: 'ipv4:1.2' });
    // The rest as before: an IPv4 (also when mapped) or an IPv6 /64, in its /16 or /32.
    expect(slotHolderOf('[::ffff:10.1.2.3]:5000')).toEqual({ host: '10.1.2.3', network: 'ipv4:10.1' });
    expect(slotHolderOf('[2001:db8:1:2:aaaa::1]:5000')).toEqual({ host: '2001:db8:1:2::/64', network: 'ipv6:20010db8' });
    // In-memory links name no host.
    expect(slotHolderOf('memory://abc@one')).toEqual({ host: undefined, network: undefined });
  });

  it("a WebRTC link counts as its relay's host and network; a relay not connected, as one shared holder", () => {
    const relay = 'd'.repeat(40);
    const relayHost = { host: '203.0.113.9', network: 'ipv4:203.0' };
    const relays = (id: string): { host: string; network: string } | undefined => (id === relay ? relayHost : undefined);
    expect(slotHolderOf(`webrtc://${'a'.repeat(40)}?via=${relay.toUpperCase()}`, relays)).toEqual(relayHost);
    expect(slotHolderOf(`webrtc://${'a'.repeat(40)}`, relays)).toEqual({ host: undefined, network: undefined });
    // A relay that is not connected (or no lookup): one holder for all such links, whatever relay id they name.
    expect(slotHolderOf(`webrtc://${'a'.repeat(40)}?via=${'e'.repeat(40)}`, relays)).toBe(UNATTRIBUTED_RELAY_HOLDER);
    expect(slotHolderOf(`webrtc://${'a'.repeat(40)}?via=${relay}`)).toBe(UNATTRIBUTED_RELAY_HOLDER);
    // A connected relay naming no network (an in-memory link): a group of its own.
    expect(slotHolderOf(`webrtc://${'a'.repeat(40)}?via=${relay}`, () => ({ host: undefined, network: undefined }))).toEqual({ host: `via:${relay}`, network: `via:${relay}` });
    // Before, no host: uncounted, never pushed out, and each newcomer through the relay could push out an
    // IP link. Now a newcomer from another network pushes out one of them once the relay's network holds the most.
    const slots = new HostSlots();
    const throughRelay = (i: number): string => `webrtc://${i.toString(16).padStart(40, '0')}?via=${relay}`;
    for (let i = 0; i < 3; i++) slots.take(slotHolderOf(throughRelay(i), relays));
    slots.take(slotHolderOf('10.0.0.1:1'));
    expect(slots.held(relayHost.host)).toBe(3);
    expect(slots.busiest(slotHolderOf('10.9.0.1:1'))).toBe(relayHost.host);
    // A fourth through the relay finds no network busier than its own, and no host of it holding more.
    expect(slots.busiest(slotHolderOf(throughRelay(3), relays))).toBeUndefined();
  });

  it('NAT64 peers of many networks are not held to one host\'s cap', () => {
    // By its /64, every IPv4 peer behind the prefix was one host: 8 pending handshakes (the default
    // per-host cap) for the whole IPv4 internet, which any one of them could fill.
    const slots = new HostSlots();
    for (let i = 1; i <= 8; i++) slots.take(slotHolderOf(`[64:ff9b::${i}.0.0.1]:5000`));
    expect(slots.held(slotHolderOf('[64:ff9b::9.0.0.1]:5000').host)).toBe(0);
    expect(slots.size).toBe(8);
  });
});

describe('HostSlots', () => {
  const holders = ['10.0.0.1:1', '10.0.0.2:1', '10.1.0.1:1', '[2001:db8:1:2::1]:1', '[2001:db8:1:3::1]:1', '[64:ff9b::a00:1]:1', '[64:ff9b::b00:1]:1', 'webrtc://x'].map((address) => slotHolderOf(address));

  it('counts come back to nothing, and the one pushed out holds more than the newcomer in a network holding more (or its own)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.nat(holders.length - 1)), { maxLength: 200 }), (steps) => {
        const slots = new HostSlots();
        const held: number[] = [];
        for (const [takes, index] of steps) {
          const holder = holders[index]!;
          if (takes) held.push(index);
          else if (held.includes(index)) held.splice(held.indexOf(index), 1);
          else continue;
          if (takes) slots.take(holder);
          else slots.give(holder);
          // A reference count of the same slots.
          const byHost = (host: string | undefined): number => held.filter((i) => host !== undefined && holders[i]!.host === host).length;
          const byNetwork = (network: string | undefined): number => held.filter((i) => network !== undefined && holders[i]!.network === network).length;
          for (const { host } of holders) expect(slots.held(host)).toBe(byHost(host));
          expect(slots.size).toBe(new Set(held.map((i) => holders[i]!.host).filter((host) => host !== undefined)).size);
          for (const newcomer of holders) {
            const busiest = slots.busiest(newcomer);
            if (busiest === undefined) continue;
            const victim = holders.find((holder) => holder.host === busiest)!;
            expect(byHost(busiest)).toBeGreaterThan(byHost(newcomer.host));
            if (victim.network !== newcomer.network) expect(byNetwork(victim.network)).toBeGreaterThan(byNetwork(newcomer.network));
          }
        }
        for (const index of held.splice(0)) slots.give(holders[index]!);
        expect(slots.size).toBe(0);
        for (const { host } of holders) expect(slots.held(host)).toBe(0);
      }),
    );
  });
});
