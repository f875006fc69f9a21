import { describe, expect, it } from 'vitest';
import {
  checkCompatible,
  localNodeInfo,
  MAX_ANNOUNCED_MESSAGE_RATE,
  MAX_ANNOUNCED_RECV_BYTES_PER_SECOND,
  MAX_LISTEN_ADDRESS_CHARS,
  MAX_LISTEN_ADDRESSES,
  parseNodeInfo,
  resolveWildcardHosts,
  type NodeInfo,
} from '../../src/switch/node-info.js';
import { HandshakeError } from '../../src/errors.js';
import { generateNodeKey } from '../../src/crypto/keys.js';
import { normalizeAddress } from '../../src/transport/canonical-address.js';

const id = generateNodeKey().nodeId;
const base: NodeInfo = {
  id,
  network: 'net',
  protocolVersion: '2.1.3',
  channels: [0, 1, 0x30],
  recvMessageCapacities: [1024, 2048, 1024 * 1024],
  listenAddresses: [`tcp://${id}@127.0.0.1:26656`],
  moniker: 'n',
  software: 'meshlink/0.1.0',
};

describe('NodeInfo', () => {
  it('accepts a well-formed NodeInfo and keeps only addresses that name the same node', () => {
    const other = generateNodeKey().nodeId;
    const info = parseNodeInfo({ ...base, listenAddresses: [...base.listenAddresses, `tcp://${other}@1.2.3.4:1`, 'garbage', 'tcp://1.2.3.4:5'] });
    expect(info.listenAddresses).toEqual(base.listenAddresses);
  });

  it('drops a listen address holding a lone surrogate (re-encoded it becomes U+FFFD, another address), keeping its pairs', () => {
    const lone = `ws://${id}@1.2.3.4:80/a\ud800`;
    const paired = `ws://${id}@1.2.3.4:80/a\u{1F600}`;
    const info = parseNodeInfo({ ...base, listenAddresses: [...base.listenAddresses, lone, `ws://${id}@1.2.3.4:80/\udc00b`, paired] });
    expect(info.listenAddresses).toEqual([...base.listenAddresses, normalizeAddress(paired)]);
  });

  it.each([
    ['not a map', 'hello'],
    ['bad id', { ...base, id: 'xyz' }],
    ['empty network', { ...base, network: '' }],
    ['bad version', { ...base, protocolVersion: 'one' }],
    ['channel out of range', { ...base, channels: [256] }],
    ['duplicate channel', { ...base, channels: [1, 1, 2] }],
    ['no recvMessageCapacities', { ...base, recvMessageCapacities: undefined }],
    ['fewer capacities than channels', { ...base, recvMessageCapacities: [1024] }],
    ['a zero capacity', { ...base, recvMessageCapacities: [0, 1, 1] }],
    ['a capacity over 64 MiB', { ...base, recvMessageCapacities: [1, 1, 64 * 1024 * 1024 + 1] }],
    ['a fractional capacity', { ...base, recvMessageCapacities: [1.5, 1, 1] }],
    ['too many addresses', { ...base, listenAddresses: new Array(17).fill(base.listenAddresses[0]) }],
    ['non-string address', { ...base, listenAddresses: [5] }],
    ['long moniker', { ...base, moniker: 'x'.repeat(65) }],
    ['announced rates without bursts', { ...base, recvMessagesPerSecond: [0, 20, 0] }],
    ['announced bursts without rates', { ...base, recvMessageBursts: [0, 100, 0] }],
    ['fewer announced rates than channels', { ...base, recvMessagesPerSecond: [20], recvMessageBursts: [100] }],
    ['a string announced rate', { ...base, recvMessagesPerSecond: [0, '20', 0], recvMessageBursts: [0, 100, 0] }],
    ['a negative announced burst', { ...base, recvMessagesPerSecond: [0, 20, 0], recvMessageBursts: [0, -1, 0] }],
    ['a NaN announced rate', { ...base, recvMessagesPerSecond: [0, Number.NaN, 0], recvMessageBursts: [0, 100, 0] }],
    ['an infinite announced burst', { ...base, recvMessagesPerSecond: [0, 20, 0], recvMessageBursts: [0, Infinity, 0] }],
    ['an announced rate over the cap', { ...base, recvMessagesPerSecond: [0, MAX_ANNOUNCED_MESSAGE_RATE + 1, 0], recvMessageBursts: [0, 100, 0] }],
    ['a negative announced receive rate', { ...base, recvBytesPerSecond: -1 }],
    ['a NaN announced receive rate', { ...base, recvBytesPerSecond: Number.NaN }],
    ['an infinite announced receive rate', { ...base, recvBytesPerSecond: Infinity }],
    ['a string announced receive rate', { ...base, recvBytesPerSecond: '4194304' }],
    ['an announced receive rate over the cap', { ...base, recvBytesPerSecond: MAX_ANNOUNCED_RECV_BYTES_PER_SECOND + 1 }],
  ])('rejects %s with a HandshakeError', (_name, value) => {
    expect(() => parseNodeInfo(value)).toThrowError(HandshakeError);
  });

  it('keeps the announced message rates by channel, and a NodeInfo without them (an older node) announces none', () => {
    const announced = parseNodeInfo({ ...base, recvMessagesPerSecond: [0, 2.5, 0], recvMessageBursts: [0, 60, 0] });
    expect([announced.recvMessagesPerSecond, announced.recvMessageBursts]).toEqual([[0, 2.5, 0], [0, 60, 0]]);
    const older = parseNodeInfo(base);
    expect('recvMessagesPerSecond' in older || 'recvMessageBursts' in older).toBe(false);
  });

  it('keeps the announced receive rate from 0 (none) to its cap, and a NodeInfo without it (an older node) announces none', () => {
    for (const rate of [0, 1, 0.5, 4 * 1024 * 1024, MAX_ANNOUNCED_RECV_BYTES_PER_SECOND]) {
      expect(parseNodeInfo({ ...base, recvBytesPerSecond: rate }).recvBytesPerSecond).toBe(rate);
    }
    expect('recvBytesPerSecond' in parseNodeInfo(base)).toBe(false);
  });

  it('announces our receive limit when one is set (capped as parsers accept it), and nothing when none is', () => {
    const ours = (recvRateBytesPerSec?: number): NodeInfo =>
      localNodeInfo(id, 'net', 'n', [], [], recvRateBytesPerSec === undefined ? {} : { recvRateBytesPerSec });
    expect(ours(4 * 1024 * 1024).recvBytesPerSecond).toBe(4 * 1024 * 1024);
    expect(ours(1e15).recvBytesPerSecond).toBe(MAX_ANNOUNCED_RECV_BYTES_PER_SECOND);
    expect('recvBytesPerSecond' in ours(0) || 'recvBytesPerSecond' in ours()).toBe(false);
    expect(parseNodeInfo(ours(1e15)).recvBytesPerSecond).toBe(MAX_ANNOUNCED_RECV_BYTES_PER_SECOND);
  });

  it('rejects another network and another protocol major version, with the reason', () => {
    expect(() => checkCompatible(base, { ...base, network: 'other' })).toThrowError(/network/);
    try {
      checkCompatible(base, { ...base, protocolVersion: '3.0.0' });
      expect.unreachable();
    } catch (error) {
      expect(error).toMatchObject({ code: 'ERR_INCOMPATIBLE_PEER', detail: { reason: 'protocol-version' } });
    }
    expect(() => checkCompatible(base, { ...base, protocolVersion: '2.9.0' })).not.toThrow();
  });

  it('refuses a protocol 1 NodeInfo (ids only, no capacities) as an incompatible version, not as a bad field', () => {
    const v1 = { ...base, protocolVersion: '1.0.0', recvMessageCapacities: undefined };
    expect(() => parseNodeInfo(v1)).toThrowError(expect.objectContaining({ code: 'ERR_INCOMPATIBLE_PEER', detail: { reason: 'protocol-version', local: '2.0.0', remote: '1.0.0' } }));
  });

  it('parses at most MAX_LISTEN_ADDRESS_CHARS of listen addresses, dropping the rest as it drops bad ones', () => {
    // 1,000-character addresses of a custom protocol with ~150 query parameters, each naming the node: each cost a
    // few parses here and in PEX's book, 2.3 ms of CPU per connection for 16 of them.
    const fat = (n: number): string => `foo://${id}@h${n}.example.com:1?${Array.from({ length: 150 }, (_, k) => `k${k}=v`).join('&')}`.slice(0, 1000);
    const info = parseNodeInfo({ ...base, listenAddresses: Array.from({ length: MAX_LISTEN_ADDRESSES }, (_, n) => fat(n)) });
    expect(info.listenAddresses).toEqual([0, 1, 2, 3].map((n) => normalizeAddress(fat(n)))); // before: all 16
    expect(4 * 1000).toBeLessThanOrEqual(MAX_LISTEN_ADDRESS_CHARS);
    // A node's own addresses fit many times over: 16 of them are all kept.
    const own = Array.from({ length: MAX_LISTEN_ADDRESSES }, (_, n) => `wss://${id}@relay-${n}.example.com:443/meshlink/relay`);
    expect(parseNodeInfo({ ...base, listenAddresses: own }).listenAddresses).toEqual(own);
    // Past the budget, what is not a string still fails the NodeInfo.
    expect(() => parseNodeInfo({ ...base, listenAddresses: [fat(0), fat(1), fat(2), fat(3), fat(4), 5] })).toThrow(HandshakeError);
  });

  it('keeps `channels` an array of ids, as protocol 1 parsers read it, with the capacities beside it', () => {
    const info = parseNodeInfo(base);
    expect(info.channels).toEqual([0, 1, 0x30]);
    expect(info.recvMessageCapacities).toEqual([1024, 2048, 1024 * 1024]);
  });
});

describe('resolveWildcardHosts', () => {
  it('replaces 0.0.0.0 and :: with the host the peer was reached at, keeping ports and other addresses', () => {
    const info = { ...base, listenAddresses: [`tcp://${id}@0.0.0.0:26656`, `ws://${id}@[::]:8080/p2p`, `tcp://${id}@203.0.113.9:1`] };
    expect(resolveWildcardHosts(info, '198.51.100.4:51234').listenAddresses).toEqual([
      `tcp://${id}@198.51.100.4:26656`,
      `ws://${id}@198.51.100.4:8080/p2p`,
      `tcp://${id}@203.0.113.9:1`,
    ]);
    expect(resolveWildcardHosts(info, '[::1]:5')).toMatchObject({ listenAddresses: expect.arrayContaining([`tcp://${id}@[::1]:26656`]) });
    expect(resolveWildcardHosts(info, 'memory-peer')).toBe(info);
  });
});
