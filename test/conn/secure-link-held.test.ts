/**
 * What a peer can make a SecureLink hold while its owner is paused: the frames opened from the rest of
 * the chunk (a TCP read, a WebSocket message) in which the owner paused. A chunk packed with one-byte
 * frames must cost about its own size, not one object per frame.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { nodeChaCha20Poly1305 } from '../../platforms/node/aead.js';
import { tcpTransport, TCP_READ_BUFFER_BYTES } from '../../platforms/node/tcp.js';
import { wsTransport, WS_MAX_PAYLOAD_BYTES } from '../../platforms/node/ws-transport.js';
import { secureHandshake, type SecureLink } from '../../src/conn/secure-link.js';
import { AEAD_TAG_BYTES, FRAME_HEADER_BYTES } from '../../src/crypto/constants.js';
import { generateNodeKey } from '../../src/crypto/keys.js';
import { parseAddress } from '../../src/transport/address.js';
import type { Link } from '../../src/transport/link.js';
import type { Transport } from '../../src/transport/transport.js';
import { waitFor, within } from '../helpers/wait.js';
import { concat, ManualPeer } from './secure-link-fixtures.js';

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Links whose owner paused at the first chunk and so left the rest of the peer's chunk held. */
const LINKS = 8;

interface HeldCase {
  name: string;
  transport: () => Transport;
  listenAddress: string;
  /** The most one read (TCP) or one message (ws) can carry: all a paused owner's link opens at once. */
  chunkBytes: number;
}

const CASES: HeldCase[] = [
  { name: 'TCP', transport: () => tcpTransport(), listenAddress: 'tcp://127.0.0.1:0', chunkBytes: TCP_READ_BUFFER_BYTES },
  { name: 'ws', transport: () => wsTransport(), listenAddress: 'ws://127.0.0.1:0/', chunkBytes: WS_MAX_PAYLOAD_BYTES },
];

/** Heap and array buffers in use after a full collection. */
function usedBytes(): number {
  collectGarbage();
  collectGarbage();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}

interface Victim {
  link: SecureLink;
  received: Uint8Array[];
  /** The owner pauses after each chunk while this holds. */
  pausing: boolean;
}

/**
 * `LINKS` SecureLinks over real sockets whose remote ends are hand-driven peers, each owner pausing at
 * the first chunk it is handed.
 */
async function victims(held: HeldCase): Promise<{ peers: ManualPeer[]; victims: Victim[] }> {
  const transport = held.transport();
  const accepted: Promise<SecureLink>[] = [];
  const listener = await transport.listen!(parseAddress(held.listenAddress), (link) => {
    cleanups.push(() => link.destroy());
    accepted.push(secureHandshake(link, { identity: generateNodeKey(), aead: nodeChaCha20Poly1305 }));
  });
  cleanups.push(async () => {
    await listener.close();
    await transport.close?.();
  });
  const peers: ManualPeer[] = [];
  const result: Victim[] = [];
  for (let i = 0; i < LINKS; i++) {
    const raw: Link = await transport.dial(listener.addresses[0]!);
    cleanups.push(() => raw.destroy());
    const peer = new ManualPeer(raw);
    raw.write(peer.hello());
    raw.write(await peer.acceptHello());
    await waitFor(() => accepted.length > i, 5000, 'inbound link');
    const link = await within(accepted[i]!, 5000, 'handshake');
    await peer.verifyAuth();
    const victim: Victim = { link, received: [], pausing: true };
    const onData = (chunk: Uint8Array): void => {
      victim.received.push(chunk);
      if (victim.pausing) link.pause();
    };
    link.attach({ onData, onDrain: () => undefined, onClose: () => undefined });
    peers.push(peer);
    result.push(victim);
  }
  return { peers, victims: result };
}

/** As many frames of `payloadBytes` as fit in `chunkBytes`, each payload byte its frame's index. */
function packedFrames(peer: ManualPeer, chunkBytes: number, payloadBytes: number): { chunk: Uint8Array; plaintext: Uint8Array } {
  const count = Math.floor(chunkBytes / (FRAME_HEADER_BYTES + payloadBytes + AEAD_TAG_BYTES));
  const payloads = Array.from({ length: count }, (_, i) => new Uint8Array(payloadBytes).fill(i & 0xff));
  return { chunk: concat(payloads.map((p) => peer.encoder!.encode(p))), plaintext: concat(payloads) };
}

/** Sends each peer one chunk of frames, measures what the paused links hold, then reads them out. */
async function heldPerLink(held: HeldCase, payloadBytes: number): Promise<number> {
  const { peers, victims: links } = await victims(held);
  const sent = peers.map((peer) => packedFrames(peer, held.chunkBytes, payloadBytes));
  const before = usedBytes();
  peers.forEach((peer, i) => peer.link.write(sent[i]!.chunk));
  await waitFor(() => links.every((v) => v.received.length === 1), 10_000, 'each owner paused at its first chunk');
  // Let whatever the links read meanwhile settle: the socket is paused behind the held frames.
  await new Promise((resolve) => setTimeout(resolve, 100));
  const perLink = (usedBytes() - before) / LINKS;
  for (const [i, victim] of links.entries()) {
    const expected = sent[i]!.plaintext;
    victim.pausing = false;
    victim.link.resume();
    await waitFor(() => victim.received.reduce((n, c) => n + c.length, 0) >= expected.length, 10_000, 'every held frame');
    expect(Buffer.from(concat(victim.received)).equals(Buffer.from(expected))).toBe(true);
  }
  return perLink;
}

describe('SecureLink: frames opened while the owner is paused', () => {
  for (const held of CASES) {
    it(`holds a ${held.chunkBytes / 1024} KiB ${held.name} chunk of one-byte frames at about its size, and delivers it intact`, { timeout: 60_000 }, async () => {
      const perLink = await heldPerLink(held, 1);
      console.log(`${held.name}: ${held.chunkBytes} B of one-byte frames held at ${Math.round(perLink)} B per link`);
      // Before packing: ~10× (695 KB per 64 KiB TCP read, 1.36 MB per 128 KiB ws message).
      expect(perLink, 'bytes held per paused link').toBeLessThan(held.chunkBytes);
    });

    it(`holds a ${held.name} chunk of 16 KiB frames at about its size`, { timeout: 60_000 }, async () => {
      const perLink = await heldPerLink(held, 16 * 1024);
      console.log(`${held.name}: ${held.chunkBytes} B of 16 KiB frames held at ${Math.round(perLink)} B per link`);
      expect(perLink, 'bytes held per paused link').toBeLessThan(2 * held.chunkBytes);
    });
  }
});
