/**
 * `--handlers` mode of bench/cpu-per-byte.ts: what each handler of a peer's (or a stranger's) bytes costs
 * per message and per KiB, for a typical message and for the worst one its size limits still let through,
 * measured in this process with `process.cpuUsage()` around a loop of calls (the handler alone: no
 * sockets, no frames). Prints JSON: per handler and input, `usPerMessage`, `usPerKiB`, and `vsTypical`
 * (µs per KiB against the same handler's typical input).
 */
import { randomBytes } from 'node:crypto';
import { AddressBook } from '../src/pex/address-book.js';
import { decodePexMessage, encodePexMessage } from '../src/pex/pex-messages.js';
import { responseViolation } from '../src/pex/pex-exchange-rules.js';
import { encodeAnswerWithin } from '../src/pex/pex-answers.js';
import { PEX_MAX_ANSWER_BYTES, PEX_MAX_MESSAGE_BYTES } from '../src/pex/constants.js';
import { decodeSignalMessage, encodeSignalMessage } from '../src/webrtc/signal-messages.js';
import { screenRemoteSignal } from '../src/webrtc/remote-candidates.js';
import { mediaSectionsOf } from '../src/webrtc/remote-description.js';
import { NODE_INFO_DECODE_LIMITS, parseNodeInfo, resolveWildcardHosts } from '../src/switch/node-info.js';
import { decodeMessage, encodeMessage } from '../src/wire/codec.js';
import { decodeAnnouncement, encodeAnnouncement, type TopologyLink } from '../demo/agents/topology-wire.js';
import { decodeChatMessage, encodeChatMessage } from '../demo/agents/chat.js';
import type { Peer } from '../src/switch/peer.js';
import { statusCases, topologyForwardCost } from './cpu-per-byte-status.js';
import { BanList } from '../src/switch/ban-list.js';
import { MAX_BAN_ENTRIES } from '../src/switch/constants.js';

const KIB = 1024;
const round = (value: number, digits = 1): number => Math.round(value * 10 ** digits) / 10 ** digits;
const hexId = (): string => randomBytes(20).toString('hex');

export interface HandlerResult {
  handler: string;
  input: string;
  bytes: number;
  usPerMessage: number;
  usPerKiB: number;
  vsTypical?: number;
  note?: string;
}

/** µs of this process's CPU per call of `run(i)`, over enough calls to take ~`budgetMs`. */
function cpuPerCall(run: (i: number) => void, budgetMs: number): number {
  const warm = performance.now();
  for (let i = 0; i < 3 || performance.now() - warm < budgetMs / 4; i++) run(i); // warm up (the JIT)
  let calls = 0;
  const start = process.cpuUsage();
  const t0 = performance.now();
  while (performance.now() - t0 < budgetMs) run(calls++);
  const used = process.cpuUsage(start);
  return (used.user + used.system) / calls;
}

/** cpuPerCall for a handler that changes state: each call gets a fresh `setup()`, made outside the timing. */
export function cpuPerFreshCall<T>(setup: (i: number) => T, run: (state: T) => void, budgetMs: number): number {
  let calls = 0;
  let micros = 0;
  const t0 = performance.now();
  for (let i = 0; i < 3 || performance.now() - t0 < budgetMs / 4; i++) run(setup(i)); // warm up (the JIT)
  while (performance.now() - t0 < 4 * budgetMs && (micros < budgetMs * 1000 || calls < 3)) {
    const batch = Array.from({ length: 8 }, (_, i) => setup(calls + i));
    const start = process.cpuUsage();
    for (const state of batch) run(state);
    const used = process.cpuUsage(start);
    micros += used.user + used.system;
    calls += batch.length;
  }
  return micros / calls;
}

// ─── the inputs ──────────────────────────────────────────────────────────────────────────────

/** 250 addresses of `shape(i)` (each a distinct node id unless the shape repeats one). */
const pexShapes: Record<string, (i: number, id: string) => string> = {
  typical: (i, id) => `tcp://${id}@${11 + (i % 200)}.${i & 0xff}.7.9:26656`,
  'same-address-250x': () => `tcp://${'a'.repeat(40)}@8.8.8.8:26656`,
  'ipv6-canonical': (i, id) => `tcp://${id}@[2600:${(i & 0xffff).toString(16)}::1]:26656`,
  'ipv6-long-forms': (i, id) => `tcp://${id}@[2600:0000:0000:${(i & 0xffff).toString(16).padStart(4, '0')}:0000:0000:0000:0001]:26656`,
  'ipv6-zone-1KiB': (i, id) => `tcp://${id}@[2600::${i.toString(16)}%${'z'.repeat(950)}]:26656`,
  'ws-dot-segments-1KiB': (i, id) => `ws://${id}@h${i}.example.com:80${'/.'.repeat(470)}/relay`,
  'ws-astral-path-1KiB': (i, id) => `ws://${id}@h${i}.example.com:80/${'\u{1F600}'.repeat(235)}`,
  'ws-combining-path-1KiB': (i, id) => `ws://${id}@h${i}.example.com:80/${'e\u0301'.repeat(310)}`,
  'ws-escapes-1KiB': (i, id) => `ws://${id}@h${i}.example.com:80/${'%c3%a9%2f%62'.repeat(78)}`,
  'dns-127-labels': (i, id) => `tcp://${id}@${'a.'.repeat(120)}x${i}.com:26656`,
  'webrtc-query-1KiB': (_i, id) => `webrtc://${id}?via=${'b'.repeat(40)}${'&x=1'.repeat(235)}`,
  'custom-protocol-params-1KiB': (i, id) => `foo://${id}@h${i}.example.com:1?${Array.from({ length: 120 }, (_, k) => `k${k}=v`).join('&')}`,
  // Upper-case hex makes the own-id check lower-case the whole address.
  'uppercase-ids': (i, id) => `tcp://${id.toUpperCase()}@${11 + (i % 200)}.${i & 0xff}.7.9:26656`,
};

function pexCase(name: string, budgetMs: number): HandlerResult {
  const shape = pexShapes[name]!;
  const response = (): Uint8Array => encodePexMessage({ type: 'pexResponse', addresses: Array.from({ length: 250 }, (_, i) => shape(i, hexId()).slice(0, 1024)) });
  const ourId = hexId();
  const peer = { id: hexId() } as Peer;
  const source = `tcp://${peer.id}@9.9.9.9:26656`;
  // Fresh addresses into a fresh book each time, as a victim that asks a new liar each time meets them.
  const responses = Array.from({ length: 8 }, response);
  const us = cpuPerFreshCall((i) => ({ bytes: responses[i % responses.length]!, book: new AddressBook({ ourNodeId: ourId }) }), ({ bytes, book }) => {
    const message = decodePexMessage(bytes, peer.id);
    if (message.type !== 'pexResponse') throw new Error('not a response');
    if (responseViolation(peer, true, message.addresses, ourId) !== undefined) throw new Error('violation');
    book.tryAddAddresses(message.addresses, source, 100);
  }, budgetMs);
  return result('pexResponse (250 addresses)', name, responses[0]!.length, us);
}

/** A pexRequest answered from a book of `entries` addresses of ~`length` characters. */
function pexRequestCase(entries: number, length: number, budgetMs: number): HandlerResult {
  const book = new AddressBook({ ourNodeId: hexId() });
  for (let i = 0; book.size() < entries && i < entries * 4; i++) {
    const host = `${11 + (i % 200)}.${(i >> 8) & 0xff}.${i & 0xff}.9`;
    const path = length > 80 ? `/${'p'.repeat(length - 80)}` : '';
    book.addAddress(`ws://${hexId()}@${host}:26656${path}`, `tcp://${hexId()}@${1 + (i % 220)}.${i % 250}.1.1:26656`);
  }
  const request = encodePexMessage({ type: 'pexRequest' });
  const us = cpuPerCall(() => {
    decodePexMessage(request);
    // As PexAgent answers an asker that takes the default capacity.
    encodeAnswerWithin(book.getSelection(250), Math.min(PEX_MAX_MESSAGE_BYTES, PEX_MAX_ANSWER_BYTES));
  }, budgetMs);
  return result('pexRequest (answer)', `book of ${book.size()}, ${length}-char addresses`, request.length, us);
}

const sdpTypical = [
  'v=0', 'o=- 4611731400430051336 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=group:BUNDLE 0', 'a=msid-semantic: WMS',
  'm=application 9 UDP/DTLS/SCTP webrtc-datachannel', 'c=IN IP4 0.0.0.0', 'a=ice-ufrag:abcd', 'a=ice-pwd:abcdefghijklmnopqrstuvwx',
  'a=fingerprint:sha-256 ' + Array.from({ length: 32 }, () => 'AB').join(':'), 'a=setup:actpass', 'a=mid:0', 'a=sctp-port:5000',
  'a=candidate:1 1 udp 2113937151 192.168.1.20 54321 typ host generation 0',
  'a=candidate:2 1 udp 1845501695 203.0.113.7 54321 typ srflx raddr 192.168.1.20 rport 54321 generation 0',
].join('\r\n');

const signalInputs: Record<string, () => string> = {
  typical: () => sdpTypical,
  'candidate-lines-12KiB': () => {
    const line = (i: number): string => `a=candidate:${i} 1 udp 2113937151 2600::${i.toString(16)} 5${i % 10000} typ host`;
    const lines: string[] = [];
    for (let i = 0, size = 0; size < 12 * KIB - 80; i++) {
      lines.push(line(i));
      size += line(i).length + 1;
    }
    return lines.join('\n');
  },
  'one-line-12KiB': () => `a=candidate:1 1 udp 1 ${'a:'.repeat(6000)} 1 typ host`.slice(0, 12 * KIB),
  'empty-lines-12KiB': () => '\n'.repeat(12 * KIB),
  'm-lines-12KiB': () => 'm=application 9\n'.repeat(Math.floor((12 * KIB) / 16)),
  'dns-candidates-12KiB': () => {
    const line = (i: number): string => `a=candidate:${i} 1 udp 1 ${'a.'.repeat(60)}h${i}.example 5000 typ host`;
    const lines: string[] = [];
    for (let i = 0, size = 0; size < 12 * KIB - 160; i++) {
      lines.push(line(i));
      size += line(i).length + 1;
    }
    return lines.join('\n');
  },
};

function signalCase(name: string, budgetMs: number): HandlerResult {
  const sdp = signalInputs[name]!();
  const bytes = encodeSignalMessage({ type: 'signal', from: hexId(), to: hexId(), data: { type: 'offer', sdp } });
  const us = cpuPerCall(() => {
    const message = decodeSignalMessage(bytes);
    if (message.type !== 'signal' || message.data.type === 'candidate') throw new Error('not an offer');
    mediaSectionsOf(message.data.sdp);
    screenRemoteSignal(message.data);
  }, budgetMs);
  return result('signal offer (decode, media check, candidate screen)', name, bytes.length, us);
}

function nodeInfoCase(name: string, budgetMs: number): HandlerResult {
  const id = hexId();
  const addressOf: Record<string, (i: number) => string> = {
    typical: (i) => `tcp://${id}@203.0.113.${i + 1}:26656`,
    'ws-dot-segments-1KiB': (i) => `ws://${id}@h${i}.example.com:80${'/.'.repeat(470)}/r`,
    'webrtc-query-1KiB': () => `webrtc://${id}?via=${'b'.repeat(40)}${'&x=1'.repeat(235)}`,
    'custom-params-1KiB': (i) => `foo://${id}@h${i}.example.com:1?${Array.from({ length: 120 }, (_, k) => `k${k}=v`).join('&')}`,
  };
  const count = name === 'typical' ? 2 : 16;
  const info = {
    id, network: 'meshlink-demo', protocolVersion: '2.0.0', channels: [0, 1, 0x30, 0x31, 0x32], recvMessageCapacities: [1, 2, 3, 4, 5].map((c) => c * 1000),
    listenAddresses: Array.from({ length: count }, (_, i) => addressOf[name]!(i).slice(0, 1000)), moniker: 'x'.repeat(64), software: 'meshlink/0.1.0',
  };
  const bytes = encodeMessage(info);
  // What a new connection's NodeInfo costs: parsed at the upgrade, its wildcard hosts resolved, its
  // listen addresses offered to the address book (PexAgent.addPeer), in a book that has them already
  // after the first connection (a liar reconnecting) or in a fresh one.
  const source = `tcp://${id}@203.0.113.9:26656`;
  const us = cpuPerFreshCall(() => new AddressBook({ ourNodeId: hexId() }), (book) => {
    const parsed = resolveWildcardHosts(parseNodeInfo(decodeMessage(bytes, NODE_INFO_DECODE_LIMITS), id), '203.0.113.9:40000');
    for (const address of parsed.listenAddresses) book.tryAddAddress(address, source);
  }, budgetMs);
  return result('NodeInfo (upgrade, wildcards, into the book)', name, bytes.length, us);
}

function topologyCase(name: string, budgetMs: number): HandlerResult {
  const links: TopologyLink[] = name === 'typical' ? [{ peer: hexId(), transport: 'tcp' }, { peer: hexId(), transport: 'ws' }] : Array.from({ length: 32 }, () => ({ peer: hexId(), transport: 'webrtc' as const }));
  const moniker = name === 'typical' ? 'amber-otter' : '\u202e'.repeat(21);
  const bytes = encodeAnnouncement({ origin: hexId(), seq: Date.now(), moniker, kind: 'relay', hops: 3, links });
  const us = cpuPerCall(() => decodeAnnouncement(bytes), budgetMs);
  return result('topology announcement (decode)', name, bytes.length, us);
}

function chatCase(name: string, budgetMs: number): HandlerResult {
  const text: Record<string, string> = { typical: 'hello there, how is the mesh today?', 'control-chars-1000B': '\u0007'.repeat(1000), 'astral-1000B': '\u{1F600}'.repeat(250), 'combining-1000B': 'e\u0301'.repeat(333) };
  const bytes = encodeChatMessage({ id: randomBytes(16), origin: hexId(), name: '\u202e'.repeat(21), text: text[name]!, hops: 2 });
  const us = cpuPerCall(() => decodeChatMessage(bytes), budgetMs);
  return result('chat message (decode)', name, bytes.length, us);
}

/** A peer banned by address (two keys: the address and its id), into a ban list of `held` bans of ids. */
function banCase(held: number, budgetMs: number): HandlerResult {
  const bans = new BanList(() => 0);
  for (let i = 0; i < held; i++) bans.ban(hexId(), 1_000_000 + i);
  const us = cpuPerCall((i) => bans.ban(`tcp://${hexId()}@203.0.113.${i & 255}:26656`, 2_000_000 + i), budgetMs);
  return result('switch ban list: a peer banned by address', held === 0 ? 'typical' : `full: ${held} bans`, 0, us);
}

function result(handler: string, input: string, bytes: number, us: number): HandlerResult {
  return { handler, input, bytes, usPerMessage: round(us, 1), usPerKiB: bytes === 0 ? 0 : round(us / (bytes / KIB), 1) };
}

/** With the typical figure of each handler as the yardstick. */
function withRatios(results: HandlerResult[]): HandlerResult[] {
  const typical = new Map(results.filter((r) => r.input === 'typical').map((r) => [r.handler, r.usPerKiB]));
  return results.map((r) => ({ ...r, vsTypical: typical.has(r.handler) ? round(r.usPerKiB / typical.get(r.handler)!, 1) : undefined }));
}

export async function runHandlersMode(budgetMs = 400, only?: readonly string[]): Promise<HandlerResult[]> {
  const want = (group: string): boolean => only === undefined || only.includes(group);
  const out: HandlerResult[] = [];
  if (want('pex')) for (const name of Object.keys(pexShapes)) out.push(pexCase(name, budgetMs));
  if (want('pex-request')) {
    out.push(pexRequestCase(500, 60, budgetMs));
    out.push(pexRequestCase(20_000, 60, budgetMs));
    out.push(pexRequestCase(20_000, 1000, budgetMs));
  }
  if (want('signal')) for (const name of Object.keys(signalInputs)) out.push(signalCase(name, budgetMs));
  if (want('node-info')) for (const name of ['typical', 'ws-dot-segments-1KiB', 'webrtc-query-1KiB', 'custom-params-1KiB']) out.push(nodeInfoCase(name, budgetMs));
  if (want('topology')) {
    for (const name of ['typical', 'worst']) out.push(topologyCase(name, budgetMs));
    for (const [peers, links] of [[2, 2], [40, 2], [40, 32]] as const) {
      const { bytes, us } = topologyForwardCost(peers, links, budgetMs, cpuPerFreshCall);
      out.push(result('topology announcement (accepted and forwarded)', peers === 2 ? 'typical' : `forwarded to ${peers - 1} peers, ${links} links`, bytes, us));
    }
  }
  if (want('chat')) for (const name of ['typical', 'control-chars-1000B', 'astral-1000B', 'combining-1000B']) out.push(chatCase(name, budgetMs));
  if (want('bans')) for (const held of [0, MAX_BAN_ENTRIES]) out.push(banCase(held, budgetMs));
  if (want('status')) out.push(...(await statusCases(budgetMs)).map((r, i) => ({ ...r, input: i === 0 ? 'typical' : r.input, note: r.input })));
  return withRatios(out);
}
