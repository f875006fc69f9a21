/**
 * Issue 8, after the handshake: an authenticated attacker (a fresh key) sends decoder bombs, messages
 * on channels nobody owns and messages over a channel's recvMessageCapacity. Each costs only the
 * attacker its connection, with a typed ProtocolError, while the honest pump keeps flowing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ProtocolError } from '../../src/errors.js';
import { PEX_CHANNEL_ID, PEX_MAX_MESSAGE_BYTES } from '../../src/pex/constants.js';
import { SIGNAL_CHANNEL_ID, SIGNAL_MAX_MESSAGE_BYTES } from '../../src/webrtc/constants.js';
import { encodeMessage } from '../../src/wire/codec.js';
import {
  APP_CH,
  APP_RECV_CAPACITY_BYTES,
  connectAttacker,
  expectCutOff,
  finishScene,
  heapProbe,
  PULL_A,
  PULL_B,
  PULL_RECV_CAPACITY_BYTES,
  startScene,
  stopHostileNodes,
  UNKNOWN_CH,
  type Victim,
} from './harness.js';

afterEach(stopHostileNodes);

/** How long the victim may take to cut off an attacker, from its send (generous: CI cores are shared). */
const CUT_OFF_MS = 3000;
const BOMB_BUDGET_BYTES = 10 * 1024;

const u32 = (value: number): number[] => [(value >>> 24) & 0xff, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff];
const repeat = (unit: number[], times: number): number[] => Array.from({ length: times }, () => unit).flat();
const HUNDRED_THOUSAND = u32(100_000);

/** msgpack shapes that make a trusting decoder allocate or recurse far beyond what the bytes back. */
const BOMBS: { name: string; bytes: Uint8Array }[] = [
  { name: 'an array declaring 100,000 elements', bytes: new Uint8Array([0xdd, ...HUNDRED_THOUSAND, ...repeat([0xc0], 100)]) },
  { name: 'a map declaring 100,000 entries', bytes: new Uint8Array([0xdf, ...HUNDRED_THOUSAND, ...repeat([0xc0], 100)]) },
  // 10 KB of array headers, each inside the last, each declaring 100,000 elements.
  { name: 'nested arrays each declaring 100,000 elements', bytes: new Uint8Array(repeat([0xdd, ...HUNDRED_THOUSAND], BOMB_BUDGET_BYTES / 5)) },
  // A map whose first key's value is another such map, 10 KB deep.
  { name: 'nested maps each declaring 100,000 entries', bytes: new Uint8Array(repeat([0xdf, ...HUNDRED_THOUSAND, 0xa1, 0x6b], Math.floor(BOMB_BUDGET_BYTES / 7))) },
  { name: 'nesting 10,000 levels deep', bytes: new Uint8Array([...repeat([0x91], 10_000), 0xc0]) },
  { name: 'maps nested 5,000 levels deep', bytes: new Uint8Array([...repeat([0x81, 0xa1, 0x6b], 3_000), 0xc0]) },
  { name: 'a string declaring 4 GiB', bytes: new Uint8Array([0xdb, ...u32(0xffffffff), ...repeat([0x61], 200)]) },
  { name: 'a binary declaring 4 GiB', bytes: new Uint8Array([0xc6, ...u32(0xffffffff), ...repeat([0x00], 200)]) },
  // { type: <str8 declaring 255 bytes, 3 present> }
  { name: 'a declared length past the end of the message', bytes: new Uint8Array([0x81, 0xa4, 0x74, 0x79, 0x70, 0x65, 0xd9, 0xff, 0x61, 0x62, 0x63]) },
  { name: 'an extension type (a timestamp)', bytes: new Uint8Array([0xd6, 0xff, 0x00, 0x00, 0x00, 0x01]) },
  { name: 'truncated bytes (an array of 3 with one item)', bytes: new Uint8Array([0x93, 0x01]) },
];

/** Every victim channel whose agent decodes msgpack, with how it is read. */
const DECODING_CHANNELS: { name: string; id: number }[] = [
  { name: 'PEX 0x00', id: PEX_CHANNEL_ID },
  { name: 'signalling 0x01', id: SIGNAL_CHANNEL_ID },
  { name: 'app 0x40 (receive + decodeMessage)', id: APP_CH },
  { name: 'app 0x41 (pull style + decodeMessage)', id: PULL_A },
];

/** One fresh attacker per channel sends `bytes` there; each must be cut off with `code`. */
async function attackEveryChannel(victim: Victim, channels: readonly { name: string; id: number }[], bytes: Uint8Array, code: string): Promise<void> {
  await Promise.all(
    channels.map(async ({ name, id }, index) => {
      const attacker = await connectAttacker(victim, { via: index % 2 === 0 ? 'tcp' : 'ws' });
      const since = Date.now();
      expect(await attacker.peer.send(id, bytes, { timeoutMs: 1000 }), `${name}: bomb queued`).toBe(true);
      const { error } = await expectCutOff(victim, attacker, code, CUT_OFF_MS, since).catch((cause: Error) => {
        throw new Error(`${name}: ${cause.message}`);
      });
      expect(error, name).toBeInstanceOf(ProtocolError);
      await expect.poll(() => attacker.sw.getPeer(victim.id), { timeout: 2000, message: `${name}: attacker sees the close` }).toBeUndefined();
    }),
  );
}

describe('after the handshake: decoder bombs', () => {
  it.each(BOMBS)('$name costs only the sender its connection on every msgpack channel (ERR_MALFORMED_MESSAGE)', async ({ bytes }) => {
    const scene = await startScene();
    await attackEveryChannel(scene.victim, DECODING_CHANNELS, bytes, 'ERR_MALFORMED_MESSAGE');
    await finishScene(scene);
  });

  it('a 10 KB PEX bomb from a brand-new key costs only that peer, with little heap, and bans only it', async () => {
    const scene = await startScene();
    const { victim } = scene;
    const heap = heapProbe(5);
    const bomb = BOMBS[2]!.bytes;
    expect(bomb.length).toBeLessThanOrEqual(BOMB_BUDGET_BYTES);
    const attacker = await connectAttacker(victim);
    const misbehaviours: string[] = [];
    victim.pex.on('misbehaviour', ({ peer, error }) => misbehaviours.push(`${peer.id}:${error.code}`));
    const since = Date.now();
    await attacker.peer.send(PEX_CHANNEL_ID, bomb);
    const { error, elapsedMs } = await expectCutOff(victim, attacker, 'ERR_MALFORMED_MESSAGE', CUT_OFF_MS, since);
    expect(error.peerId).toBe(attacker.id);
    expect(elapsedMs).toBeLessThan(CUT_OFF_MS);
    expect(misbehaviours).toEqual([`${attacker.id}:ERR_MALFORMED_MESSAGE`]);
    heap.stop();
    // Sampled without GC, so the peak includes the pump's young garbage: a trusting decoder would
    // reserve hundreds of MB here. What stays after GC must be small.
    expect(heap.peakGrowthBytes / (1024 * 1024), 'peak heap growth while decoding (MB)').toBeLessThan(32);
    heap.expectBelow(20);
    // The ban is the attacker's alone: it cannot come back, the honest peers stay.
    expect(victim.sw.bans.isBanned(attacker.id)).toBe(true);
    for (const h of scene.honest) expect(victim.sw.bans.isBanned(h.id)).toBe(false);
    await expect.poll(() => attacker.sw.getPeer(victim.id), { timeout: 2000, message: 'attacker sees the close' }).toBeUndefined();
    await expect(attacker.sw.dial(victim.tcpAddress)).rejects.toMatchObject({ code: 'ERR_BANNED' });
    await finishScene(scene);
  });

  it('a peer that sends a bomb after good traffic loses only its own connection; its earlier messages were delivered', async () => {
    const scene = await startScene();
    const { victim } = scene;
    const attacker = await connectAttacker(victim);
    for (let s = 0; s < 20; s++) expect(await attacker.peer.send(APP_CH, encodeMessage({ k: 'pump', s }))).toBe(true);
    const since = Date.now();
    await attacker.peer.send(APP_CH, BOMBS[0]!.bytes);
    await expectCutOff(victim, attacker, 'ERR_MALFORMED_MESSAGE', CUT_OFF_MS, since);
    expect(victim.record.received.get(`${attacker.id}>${victim.id}#${APP_CH}`)).toEqual(Array.from({ length: 20 }, (_, s) => s));
    await finishScene(scene);
  });
});

describe('after the handshake: unknown channels and oversized messages', () => {
  it('a message on a channel no agent owns costs the sender its connection (ERR_UNKNOWN_CHANNEL)', async () => {
    const scene = await startScene();
    await attackEveryChannel(scene.victim, [{ name: 'unknown 0x77', id: UNKNOWN_CH }], new Uint8Array([0xc0]), 'ERR_UNKNOWN_CHANNEL');
    // Even an empty message on an unknown channel.
    await attackEveryChannel(scene.victim, [{ name: 'unknown 0x77, empty message', id: UNKNOWN_CH }], new Uint8Array(0), 'ERR_UNKNOWN_CHANNEL');
    await finishScene(scene);
  });

  it('a message over the channel recvMessageCapacity costs the sender its connection on every channel (ERR_MESSAGE_TOO_LARGE)', async () => {
    const scene = await startScene();
    const caps: { name: string; id: number; cap: number }[] = [
      { name: 'PEX 0x00', id: PEX_CHANNEL_ID, cap: PEX_MAX_MESSAGE_BYTES },
      { name: 'signalling 0x01', id: SIGNAL_CHANNEL_ID, cap: SIGNAL_MAX_MESSAGE_BYTES },
      { name: 'app 0x40', id: APP_CH, cap: APP_RECV_CAPACITY_BYTES },
      { name: 'pull 0x41', id: PULL_A, cap: PULL_RECV_CAPACITY_BYTES },
      { name: 'pull 0x42', id: PULL_B, cap: PULL_RECV_CAPACITY_BYTES },
    ];
    const heap = heapProbe(5);
    await Promise.all(
      caps.map(async ({ name, id, cap }) => {
        const attacker = await connectAttacker(scene.victim);
        const since = Date.now();
        await attacker.peer.send(id, new Uint8Array(cap + 1));
        const { error } = await expectCutOff(scene.victim, attacker, 'ERR_MESSAGE_TOO_LARGE', CUT_OFF_MS, since);
        expect(error, name).toBeInstanceOf(ProtocolError);
        expect((error as ProtocolError).detail, name).toMatchObject({ channelId: id, limit: cap });
        // A PEX message over the cap can only be an address flood: the sender is also banned.
        expect(scene.victim.sw.bans.isBanned(attacker.id), name).toBe(id === PEX_CHANNEL_ID);
      }),
    );
    heap.stop();
    // Reassembly never holds more than a channel's capacity: 5 attackers cost a few MB (the peak,
    // sampled without GC, also holds the pump's young garbage).
    expect(heap.peakGrowthBytes / (1024 * 1024), 'peak heap growth (MB)').toBeLessThan(32);
    await finishScene(scene);
  });

  it('a message exactly at recvMessageCapacity is accepted (the limit is not off by one)', async () => {
    const scene = await startScene();
    const attacker = await connectAttacker(scene.victim);
    // A valid msgpack binary of exactly the app channel's capacity: 0xc6 + u32 length + bytes.
    const body = new Uint8Array(APP_RECV_CAPACITY_BYTES);
    body.set([0xc6, ...u32(APP_RECV_CAPACITY_BYTES - 5)]);
    expect(await attacker.peer.send(APP_CH, body)).toBe(true);
    await expect.poll(() => attacker.onVictim()?.status().channels.find((c) => c.id === APP_CH)?.receivedMessages, { timeout: 3000 }).toBe(1);
    expect(attacker.onVictim()?.isConnected).toBe(true);
    await finishScene(scene);
  });

  it('the error that cut an attacker off names it (peerId), whichever layer raised it', async () => {
    const scene = await startScene();
    const cases: { name: string; id: number; bytes: Uint8Array; code: string }[] = [
      { name: 'PEX bomb', id: PEX_CHANNEL_ID, bytes: BOMBS[0]!.bytes, code: 'ERR_MALFORMED_MESSAGE' },
      { name: 'signalling bomb', id: SIGNAL_CHANNEL_ID, bytes: BOMBS[0]!.bytes, code: 'ERR_MALFORMED_MESSAGE' },
      { name: 'app receive() bomb', id: APP_CH, bytes: BOMBS[0]!.bytes, code: 'ERR_MALFORMED_MESSAGE' },
      { name: 'pull-style bomb', id: PULL_A, bytes: BOMBS[0]!.bytes, code: 'ERR_MALFORMED_MESSAGE' },
      { name: 'unknown channel', id: UNKNOWN_CH, bytes: new Uint8Array([0xc0]), code: 'ERR_UNKNOWN_CHANNEL' },
      { name: 'oversized', id: APP_CH, bytes: new Uint8Array(APP_RECV_CAPACITY_BYTES + 1), code: 'ERR_MESSAGE_TOO_LARGE' },
    ];
    const named: Record<string, string | undefined> = {};
    await Promise.all(
      cases.map(async ({ name, id, bytes, code }) => {
        const attacker = await connectAttacker(scene.victim);
        const since = Date.now();
        await attacker.peer.send(id, bytes);
        const { error } = await expectCutOff(scene.victim, attacker, code, CUT_OFF_MS, since);
        named[name] = error.peerId === attacker.id ? 'attacker' : String(error.peerId);
      }),
    );
    // DESIGN.md: errors are typed "with the peer id"; a peer's misbehaviour reaches an event.
    expect(named).toEqual(Object.fromEntries(cases.map((c) => [c.name, 'attacker'])));
    await finishScene(scene);
  });
});
