/**
 * PexDialer's judgement of a failed dial: which failures count against the address dialled. Real
 * switches over TCP on 127.0.0.1.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { tcpTransport } from '../../platforms/node/tcp.js';
import { generateNodeKey } from '../../src/crypto/keys.js';
import { AddressBook } from '../../src/pex/address-book.js';
import { resolvePexConfig } from '../../src/pex/config.js';
import { PexDialer } from '../../src/pex/pex-dialer.js';
import { systemClock } from '../../src/util/clock.js';
import { waitFor } from '../helpers/wait.js';
import { recordDialFailureCodes, startPexNode, stopPexNodes } from './pex-helpers.js';

afterEach(stopPexNodes);

describe('PexDialer', () => {
  it('does not count a dial refused as a duplicate (the node holds a connection of ours) against the address', async () => {
    // We restarted; the remote still holds our old connection (its keep-alive cuts it within ~105 s) and
    // refuses every new one with ERR_DUPLICATE_PEER. The address is the node's real one: it must not
    // back off, turn bad after 3 refusals or be dropped after maxDialAttempts.
    const remote = await startPexNode({ transports: [tcpTransport()], listen: 'tcp://127.0.0.1:0', pex: false });
    const key = generateNodeKey();
    const before = await startPexNode({ transports: [tcpTransport()], listen: 'tcp://127.0.0.1:0', pex: false, identity: key });
    await before.sw.dial(remote.address);
    const us = await startPexNode({ transports: [tcpTransport()], listen: 'tcp://127.0.0.1:0', pex: false, identity: key });
    const book = new AddressBook({ allowLocal: true });
    expect(book.tryAddAddress(remote.address, remote.address)).toBe('added');
    const counters = { dials: 0, dialFailures: 0, seedDials: 0 };
    let failures = 0;
    const dialer = new PexDialer(us.sw, book, resolvePexConfig({ dialJitterMs: 0 }), Math.random, counters, systemClock, () => failures++);
    const codes = recordDialFailureCodes(us.sw);
    for (let round = 0; round < 4; round++) {
      dialer.dial(remote.address, 'book');
      await waitFor(() => !dialer.isDialling(remote.sw.nodeId), 5_000);
    }
    dialer.stop();
    expect(codes).toEqual(['ERR_DUPLICATE_PEER', 'ERR_DUPLICATE_PEER', 'ERR_DUPLICATE_PEER', 'ERR_DUPLICATE_PEER']);
    expect(counters.dials).toBe(4);
    // Before: attempts 4, the address bad (3 failed attempts) and backing off.
    expect(book.get(remote.address)?.attempts).toBe(0);
    expect(book.get(remote.address)?.bad).toBe(false);
    expect(failures).toBe(0);
  }, 20_000);

  it('counts a node that banned us against its address, and drops it after maxDialAttempts', async () => {
    const remote = await startPexNode({ transports: [tcpTransport()], listen: 'tcp://127.0.0.1:0', pex: false });
    const us = await startPexNode({ transports: [tcpTransport()], listen: 'tcp://127.0.0.1:0', pex: false });
    remote.sw.ban(us.sw.nodeId);
    const book = new AddressBook({ allowLocal: true });
    expect(book.tryAddAddress(remote.address, remote.address)).toBe('added');
    const counters = { dials: 0, dialFailures: 0, seedDials: 0 };
    let failures = 0;
    const dialer = new PexDialer(us.sw, book, resolvePexConfig({ dialJitterMs: 0, maxDialAttempts: 3 }), Math.random, counters, systemClock, () => failures++);
    for (let round = 0; round < 3; round++) {
      dialer.dial(remote.address, 'book');
      await waitFor(() => !dialer.isDialling(remote.sw.nodeId), 5_000);
    }
    dialer.stop();
    // Before: taken for our own ban, no failure counted and the address kept for ever.
    expect(counters.dialFailures).toBe(3);
    expect(failures).toBe(3);
    expect(book.get(remote.address)).toBeUndefined();
    // Our own ban of a node still costs its address nothing.
    const other = await startPexNode({ transports: [tcpTransport()], listen: 'tcp://127.0.0.1:0', pex: false });
    us.sw.ban(other.sw.nodeId);
    expect(book.tryAddAddress(other.address, other.address)).toBe('added');
    const ownBan = new PexDialer(us.sw, book, resolvePexConfig({ dialJitterMs: 0, maxDialAttempts: 3 }), Math.random, counters, systemClock, () => failures++);
    ownBan.dial(other.address, 'book');
    await waitFor(() => !ownBan.isDialling(other.sw.nodeId), 5_000);
    ownBan.stop();
    expect(counters.dialFailures).toBe(3);
    expect(book.get(other.address)).toBeDefined();
  }, 20_000);
});
