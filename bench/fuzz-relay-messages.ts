/**
 * What the relay fuzzer's attacker sends (bench/fuzz-relay.ts): fast-check arbitraries of whole
 * attack sequences, built by mutating VALID messages of every channel the relay program declares
 * (PEX 0x00, signal 0x01, mempool 0x30, topology 0x31, chat 0x32, burst 0x33), interleaved with
 * closes and reconnects. Mutations: a field replaced by a value of the wrong type or an extreme
 * number (NaN, -0, ±2^53, ±Infinity, a uint64), a field dropped or added, arrays grown to the frame's
 * limit, repeated ids, replies never asked for, signals for negotiations that never began, and raw
 * byte damage (a flipped byte, a cut, garbage behind). Sizes stay within what each channel's
 * recvMessageCapacity lets through most of the time, so the agents behind the decoders are reached.
 */
import { Encoder } from '@msgpack/msgpack';
import fc from 'fast-check';

export const CH = { pex: 0x00, signal: 0x01, mempool: 0x30, topology: 0x31, chat: 0x32, burst: 0x33, unknown: 0x77 } as const;
export type ChannelName = keyof typeof CH;
/** Every channel the attacker's own MConnection must declare (so its sends are not refused locally). */
export const ATTACK_CHANNEL_IDS: readonly number[] = Object.values(CH);

/** Ids the generator may name: the relay, the honest peers, the attackers' first keys, strangers. */
export interface Cast {
  relay: string;
  honest: readonly string[];
  attackers: readonly string[];
}

/** Attackers connected at once (each with keys of its own): two, so the relay also passes one's messages to the other. */
export const ATTACKERS = 2;

/**
 * One step of a sequence, by attacker `who` (0 when absent). `label` names the channel and the
 * mutation, for the CPU table.
 */
export type Action =
  | { kind: 'send'; channel: number; label: string; bytes: Uint8Array; repeat: number; who?: number }
  | { kind: 'reconnect'; via: 'tcp' | 'ws'; who?: number }
  /** Destroy the link at once, no close packet, whatever is still queued or half-sent. */
  | { kind: 'abort'; who?: number }
  | { kind: 'pause'; ms: number };

// uint64 for bigints, so 2^64 - 1 and -2^63 reach the decoders as msgpack integers.
const encoder = new Encoder({ useBigInt64: true, ignoreUndefined: false });
const encode = (value: unknown): Uint8Array => encoder.encode(value);

const hexId = fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => Buffer.from(b).toString('hex'));

function someId(cast: Cast): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(cast.relay, ...cast.attackers, ...cast.honest) },
    { weight: 1, arbitrary: hexId },
    { weight: 1, arbitrary: hexId.map((id) => id.toUpperCase()) },
  );
}

/** Values of the wrong type, or numbers at the edges of what msgpack and JS can say. */
export const extremeValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(
    Number.NaN, -0, 2 ** 53, -(2 ** 53), 2 ** 53 + 2, Number.MAX_SAFE_INTEGER, Infinity, -Infinity, 1e308, 5e-324, -1, 0.5,
    2n ** 64n - 1n, -(2n ** 63n), null, true, false, '', [], {}, new Uint8Array(0), 'pexRequest', 'signal', 'candidate',
  ),
  fc.string({ maxLength: 80 }),
  fc.uint8Array({ maxLength: 64 }),
  fc.integer({ min: 1, max: 9 }).map((depth) => nest(depth)),
  fc.integer({ min: 200, max: 3000 }).map((n) => 'x'.repeat(n)),
);

function nest(depth: number): unknown {
  let value: unknown = 0;
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? [value] : { a: value };
  return value;
}

// ─── valid messages, per channel ─────────────────────────────────────────────────────────────

function validTemplates(cast: Cast): Record<Exclude<ChannelName, 'burst' | 'unknown'>, fc.Arbitrary<Record<string, unknown>>> {
  const address = fc.tuple(hexId, fc.integer({ min: 1, max: 255 }), fc.integer({ min: 1, max: 65535 }), fc.constantFrom('tcp', 'ws'))
    .map(([id, octet, port, scheme]) => `${scheme}://${id}@203.0.113.${octet}:${port}${scheme === 'ws' ? '/' : ''}`);
  const webrtcAddress = fc.tuple(hexId, someId(cast)).map(([id, via]) => `webrtc://${id}?via=${via}`);
  const sdp = fc.constantFrom('v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n', 'v=0 stub');
  const candidateLine = fc.integer({ min: 1, max: 65535 }).map((port) => `candidate:1 1 udp 2122260223 192.0.2.1 ${port} typ host`);
  const signalData = fc.oneof(
    fc.record({ type: fc.constantFrom('offer', 'answer'), sdp }),
    fc.record({ type: fc.constant('candidate'), candidate: fc.record({ candidate: candidateLine, sdpMLineIndex: fc.constant(0), sdpMid: fc.constant('0') }) }),
  );
  const link = fc.tuple(someId(cast), fc.constantFrom('tcp', 'ws', 'wss', 'webrtc', 'memory'));
  return {
    pex: fc.oneof(
      fc.constant({ type: 'pexRequest' }),
      fc.record({ type: fc.constant('pexResponse'), addresses: fc.array(fc.oneof(address, webrtcAddress), { maxLength: 40 }) }),
    ),
    signal: fc.oneof(
      { weight: 4, arbitrary: fc.record({ type: fc.constant('signal'), from: someId(cast), to: someId(cast), data: signalData }) },
      { weight: 1, arbitrary: fc.record({ type: fc.constant('unreachable'), to: someId(cast) }) },
    ),
    mempool: fc.record({ tx: fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.integer({ min: 1, max: 64 * 1024 }).map((n) => new Uint8Array(n).fill(n & 0xff))) }),
    topology: fc.record({
      origin: someId(cast),
      seq: fc.oneof(fc.nat(), fc.constant(Date.now()), fc.constant(Number.MAX_SAFE_INTEGER)),
      moniker: fc.string({ maxLength: 64 }),
      kind: fc.constantFrom('page', 'relay', 'node'),
      hops: fc.integer({ min: 0, max: 8 }),
      links: fc.array(link, { maxLength: 32 }),
    }),
    chat: fc.record({
      id: fc.oneof(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.constant(new Uint8Array(16))), // the zero id: a repeated id
      origin: someId(cast),
      name: fc.string({ maxLength: 64 }),
      text: fc.string({ minLength: 1, maxLength: 1000 }),
      hops: fc.integer({ min: 0, max: 15 }),
    }),
  };
}

// ─── mutations ───────────────────────────────────────────────────────────────────────────────

type Mutation =
  | { kind: 'set'; pick: number; value: unknown }
  | { kind: 'drop'; pick: number }
  | { kind: 'extra'; key: string; value: unknown }
  | { kind: 'grow'; pick: number; times: number }
  | { kind: 'wrap' };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('set' as const), pick: fc.nat(), value: extremeValue }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('drop' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('extra' as const), key: fc.constantFrom('type', '__proto__', 'constructor', 'x', ''), value: extremeValue }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('grow' as const), pick: fc.nat(), times: fc.constantFrom(2, 50, 251, 2000, 20_000) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'wrap' as const }) },
);

/** Paths to every value inside `root` (maps and arrays, depth-first), the root excluded. */
function paths(root: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  if (root instanceof Uint8Array || root === null || typeof root !== 'object') return out;
  for (const key of Array.isArray(root) ? root.keys() : Object.keys(root)) {
    const path = [...prefix, key];
    out.push(path);
    paths((root as Record<string | number, unknown>)[key], path, out);
  }
  return out;
}

function parentOf(root: unknown, path: readonly (string | number)[]): Record<string | number, unknown> {
  let node = root as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  return node;
}

/** Applies `m` to a deep copy of `value`; returns the new value and a short name of what changed. */
export function mutate(value: unknown, m: Mutation): { value: unknown; name: string } {
  const root = structuredClone(value) as Record<string, unknown>;
  const all = paths(root);
  const at = (pick: number) => all[pick % Math.max(1, all.length)];
  const show = (path: readonly (string | number)[] | undefined): string => (path ?? []).map((k) => (typeof k === 'number' ? '#' : k)).join('.');
  switch (m.kind) {
    case 'set': {
      const path = at(m.pick);
      if (path === undefined) return { value: m.value, name: 'replaced' };
      parentOf(root, path)[path.at(-1)!] = m.value;
      return { value: root, name: `set ${show(path)}=${describeValue(m.value)}` };
    }
    case 'drop': {
      const path = at(m.pick);
      if (path === undefined) return { value: root, name: 'drop none' };
      const parent = parentOf(root, path);
      if (Array.isArray(parent)) parent.splice(path.at(-1) as number, 1);
      else delete parent[path.at(-1)!];
      return { value: root, name: `drop ${show(path)}` };
    }
    case 'extra':
      if (root === null || typeof root !== 'object' || root instanceof Uint8Array) return { value: root, name: 'extra: not a map' };
      Object.defineProperty(root, m.key, { value: m.value, enumerable: true, configurable: true, writable: true });
      return { value: root, name: `extra ${m.key || '""'}` };
    case 'grow': {
      // The first array found from `pick` on is repeated `times` over (repeated ids, huge lists).
      const arrays = all.filter((p) => Array.isArray(parentOf(root, p)[p.at(-1)!]));
      const path = arrays[m.pick % Math.max(1, arrays.length)];
      if (path === undefined) {
        const times = Math.max(1, Math.min(m.times, Math.floor(MAX_GROWN_ELEMENTS / countElements(root))));
        return { value: Array.from({ length: times }, () => root), name: `grow root×${times}` };
      }
      const parent = parentOf(root, path);
      const list = parent[path.at(-1)!] as unknown[];
      const item = list[0] ?? 0;
      // Grown twice over, a list of lists would be 4e8 elements: keep each message near the frame's size.
      const times = Math.max(1, Math.min(m.times, Math.floor(MAX_GROWN_ELEMENTS / countElements(item))));
      parent[path.at(-1)!] = Array.from({ length: times }, () => item);
      return { value: root, name: `grow ${show(path)}×${(parent[path.at(-1)!] as unknown[]).length}` };
    }
    case 'wrap':
      return { value: [root], name: 'wrapped in array' };
  }
}

/** Elements a grown list may hold in all (its items' own elements counted). */
const MAX_GROWN_ELEMENTS = 40_000;

/** Values inside `value`, itself included (stops counting past MAX_GROWN_ELEMENTS). */
function countElements(value: unknown): number {
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return 1;
  let count = 1;
  for (const item of Object.values(value)) {
    count += countElements(item);
    if (count > MAX_GROWN_ELEMENTS) return count;
  }
  return count;
}

function describeValue(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'number') return Object.is(value, -0) ? '-0' : String(value);
  if (typeof value === 'string') return value.length > 12 ? `str(${value.length})` : JSON.stringify(value);
  if (value instanceof Uint8Array) return `bin(${value.length})`;
  if (Array.isArray(value)) return `arr(${value.length})`;
  return value === null ? 'null' : typeof value;
}

/** Byte-level damage after encoding. */
type Damage = { kind: 'none' } | { kind: 'flip'; at: number; xor: number } | { kind: 'cut'; at: number } | { kind: 'tail'; bytes: Uint8Array };
const damage: fc.Arbitrary<Damage> = fc.oneof(
  { weight: 12, arbitrary: fc.constant({ kind: 'none' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('tail' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }) },
);

function applyDamage(bytes: Uint8Array, d: Damage): Uint8Array {
  switch (d.kind) {
    case 'none':
      return bytes;
    case 'flip': {
      const out = bytes.slice();
      if (out.length > 0) out[d.at % out.length]! ^= d.xor;
      return out;
    }
    case 'cut':
      return bytes.subarray(0, d.at % Math.max(1, bytes.length));
    case 'tail':
      return new Uint8Array([...bytes, ...d.bytes]);
  }
}

/** Largest message sent: big enough for every channel's limit and then some, small enough to keep a run quick. */
const MAX_SENT_BYTES = 96 * 1024;

export type MessageChannel = Exclude<ChannelName, 'burst' | 'unknown'>;
export const MESSAGE_CHANNELS: readonly MessageChannel[] = ['pex', 'signal', 'mempool', 'topology', 'chat'];

/** One message on `name`'s channel: a valid one, or one with up to three mutations and maybe byte damage. */
export function message(cast: Cast, name: MessageChannel): fc.Arbitrary<Action & { kind: 'send' }> {
  const template = validTemplates(cast)[name];
  return fc
    .tuple(
      template,
      // Half the messages valid: a sequence must get past the first refusal to reach the agents' state.
      fc.oneof(fc.constant([]), fc.array(mutation, { minLength: 1, maxLength: 3 })),
      damage, fc.oneof({ weight: 8, arbitrary: fc.constant(1) }, { weight: 2, arbitrary: fc.integer({ min: 2, max: 60 }) }, { weight: 1, arbitrary: fc.integer({ min: 100, max: 400 }) }))
    .map(([valid, mutations, dmg, repeat]) => {
      let value: unknown = valid;
      const names: string[] = [];
      for (const m of mutations) {
        const next = mutate(value, m);
        value = next.value;
        names.push(next.name);
      }
      let bytes: Uint8Array;
      try {
        bytes = encode(value);
      } catch {
        // Beyond what our own encoder can write (the relay would never see it): send the valid one.
        bytes = encode(valid);
        names.push('(unencodable: sent valid)');
      }
      if (bytes.length > MAX_SENT_BYTES) bytes = bytes.subarray(0, MAX_SENT_BYTES);
      bytes = applyDamage(bytes, dmg);
      const label = `${name}: ${names.length === 0 ? 'valid' : names.join(', ')}${dmg.kind === 'none' ? '' : ` +${dmg.kind}`}`;
      return { kind: 'send' as const, channel: CH[name], label, bytes, repeat };
    });
}

export function actionArbitrary(cast: Cast): fc.Arbitrary<Action> {
  const raw = (name: 'burst' | 'unknown', maxLength: number) =>
    fc.tuple(fc.uint8Array({ maxLength }), fc.integer({ min: 1, max: 30 }))
      .map(([bytes, repeat]): Action => ({ kind: 'send', channel: CH[name], label: `${name}: raw(${bytes.length})`, bytes, repeat }));
  return fc.oneof(
    { weight: 5, arbitrary: message(cast, 'pex') },
    { weight: 6, arbitrary: message(cast, 'signal') },
    { weight: 4, arbitrary: message(cast, 'mempool') },
    { weight: 4, arbitrary: message(cast, 'topology') },
    { weight: 4, arbitrary: message(cast, 'chat') },
    { weight: 1, arbitrary: raw('burst', 1100) },
    { weight: 1, arbitrary: raw('unknown', 64) },
    { weight: 1, arbitrary: fc.constantFrom<'tcp' | 'ws'>('tcp', 'ws').map((via): Action => ({ kind: 'reconnect', via })) },
    { weight: 1, arbitrary: fc.constant<Action>({ kind: 'abort' }) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 40 }).map((ms): Action => ({ kind: 'pause', ms })) },
  );
}

export function sequenceArbitrary(cast: Cast, maxActions: number): fc.Arbitrary<Action[]> {
  // The first attacker does most; the second's steps interleave with its.
  const who = fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: ATTACKERS - 1 }) });
  const step = fc.tuple(actionArbitrary(cast), who).map(([action, by]): Action => (action.kind === 'pause' || by === 0 ? action : { ...action, who: by }));
  return fc.array(step, { minLength: 1, maxLength: maxActions });
}

export function describeAction(action: Action): string {
  const by = action.kind !== 'pause' && (action.who ?? 0) > 0 ? `[attacker ${action.who}] ` : '';
  return by + describeStep(action);
}

function describeStep(action: Action): string {
  if (action.kind === 'send') return `0x${action.channel.toString(16).padStart(2, '0')} ${action.label} (${action.bytes.length} B${action.repeat > 1 ? ` ×${action.repeat}` : ''})`;
  if (action.kind === 'abort') return 'abort the link';
  return action.kind === 'reconnect' ? `reconnect over ${action.via}` : `pause ${action.ms} ms`;
}
