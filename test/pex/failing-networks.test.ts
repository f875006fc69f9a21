/**
 * FailingNetworks: the wait between our dials into a public network where the last ones all failed,
 * whatever node ids and ports the addresses name (see test/hostile/dial-reflection.test.ts for the
 * attack over real sockets).
 */
import { describe, expect, it } from 'vitest';
import { FailingNetworks } from '../../src/pex/failing-networks.js';

const at = (host: string, port = 26656, id = 1): string => `tcp://${id.toString(16).padStart(40, 'a')}@${host}:${port}`;

describe('FailingNetworks', () => {
  it('counts failures at any host and port of one /16 together, from the second in a row, doubling up to the cap', () => {
    const networks = new FailingNetworks(1000, 8000);
    networks.failed(at('11.9.0.1', 80, 1), 0);
    expect(networks.waitMs(at('11.9.0.1', 81, 2), 0)).toBe(0);
    networks.failed(at('11.9.0.2', 8080, 3), 0);
    expect(networks.isFailing(at('11.9.200.7', 1, 4), 0)).toBe(true);
    expect(networks.waitMs(at('11.9.200.7', 1, 4), 0)).toBe(1000);
    expect(networks.waitMs(at('11.9.200.7', 1, 4), 400)).toBe(600);
    for (const nowMs of [1000, 2000, 3000, 4000, 5000]) networks.failed(at('11.9.0.1', nowMs, 5), nowMs);
    // 7 in a row: 1000 · 2^5 capped at 8000.
    expect(networks.waitMs(at('11.9.0.3'), 5000)).toBe(8000);
    // Another /16 is not touched.
    expect(networks.waitMs(at('11.10.0.1'), 5000)).toBe(0);
  });

  it('counts a network as failing for our answers only when more than one address failed there', () => {
    const networks = new FailingNetworks(1000, 8000);
    // One node that left: its own address fails again and again.
    for (const nowMs of [0, 1000, 2000]) networks.failed(at('11.9.0.1', 80, 1), nowMs);
    expect(networks.waitMs(at('11.9.0.1', 80, 1), 2000)).toBe(2000);
    expect(networks.isFailing(at('11.9.0.1', 80, 1), 2000)).toBe(false);
    // Another address there fails too: made-up nodes.
    networks.failed(at('11.9.0.1', 81, 2), 3000);
    expect(networks.isFailing(at('11.9.7.7', 1, 3), 3000)).toBe(true);
  });

  it('holds a network failing (its never-reached addresses out of our answers) only within maxMs of its last failure', () => {
    // Two made-up nodes in an honest /16, dialled once each; then no dial of ours goes there (a node at
    // its outbound target dials only its feelers). Before: failing for as long as nothing there was reached.
    const networks = new FailingNetworks(1000, 600_000);
    networks.failed(at('11.9.0.1', 1, 1), 0);
    networks.failed(at('11.9.0.2', 1, 2), 0);
    expect(networks.isFailing(at('11.9.44.4', 26656, 3), 600_000 - 1)).toBe(true);
    expect(networks.isFailing(at('11.9.44.4', 26656, 3), 600_000)).toBe(false);
    expect(networks.isFailing(at('11.9.44.4', 26656, 3), 3_600_000)).toBe(false);
    // A further failure there holds it again.
    networks.failed(at('11.9.0.3', 1, 4), 3_600_000);
    expect(networks.isFailing(at('11.9.44.4', 26656, 3), 3_600_000)).toBe(true);
  });

  it('a dial that reaches a node there ends the streak', () => {
    const networks = new FailingNetworks(1000, 8000);
    networks.failed(at('11.9.0.1', 1), 0);
    networks.failed(at('11.9.0.1', 2), 0);
    networks.reached(at('11.9.3.4'));
    expect(networks.isFailing(at('11.9.0.1', 3), 0)).toBe(false);
    expect(networks.waitMs(at('11.9.0.1', 3), 0)).toBe(0);
  });

  it('leaves out loopback and LAN addresses (a testnet on one machine) and WebRTC ones', () => {
    const networks = new FailingNetworks(1000, 8000);
    for (const address of [at('127.0.0.1', 1), at('127.0.0.1', 2), at('192.168.1.5', 1), at('192.168.1.6', 1)]) networks.failed(address, 0);
    const webrtc = `webrtc://${'b'.repeat(40)}?via=${'c'.repeat(40)}`;
    networks.failed(webrtc, 0);
    networks.failed(webrtc, 0);
    expect(networks.waitMs(at('127.0.0.1', 3), 0)).toBe(0);
    expect(networks.waitMs(at('192.168.1.7', 1), 0)).toBe(0);
    expect(networks.waitMs(webrtc, 0)).toBe(0);
  });

  it('remembers at most its capacity of networks, forgetting the one failing longest ago', () => {
    const networks = new FailingNetworks(1000, 8000, 4);
    for (let i = 0; i < 6; i++) {
      networks.failed(at(`${11 + i}.1.0.1`, 1), i);
      networks.failed(at(`${11 + i}.1.0.1`, 2), i);
    }
    expect([11, 12, 13, 14, 15, 16].map((octet) => networks.isFailing(at(`${octet}.1.0.9`), 6))).toEqual([false, false, true, true, true, true]);
  });
});
