/**
 * A peer sending thousands of tiny messages to a reader that takes one at a time (pauses the
 * connection on each, resumes a turn later: an inbox of one). Each 64 KiB frame holds ~13,000 of them,
 * so what a pause leaves of the frame must be kept once, not copied again at each pause (that was
 * quadratic in the frame). Over real TCP on 127.0.0.1; the work is observed as the buffers the packet
 * decoder parks, not as time.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { nodeChaCha20Poly1305 } from '../../platforms/node/aead.js';
import { tcpTransport } from '../../platforms/node/tcp.js';
import { MConnection } from '../../src/conn/mconnection.js';
import { secureHandshake, type SecureLink } from '../../src/conn/secure-link.js';
import { generateNodeKey } from '../../src/crypto/keys.js';
import type { Link } from '../../src/transport/link.js';
import { waitFor, within } from '../helpers/wait.js';

const LOOPBACK = { protocol: 'tcp', nodeId: undefined, host: '127.0.0.1', port: 0, path: '', params: {} } as const;
const CHANNEL = 0x40;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function tcpSecurePair(): Promise<[SecureLink, SecureLink]> {
  const transport = tcpTransport();
  let accepted: Promise<SecureLink> | undefined;
  const listener = await transport.listen!(LOOPBACK, (link: Link) => {
    cleanups.push(() => link.destroy());
    accepted = secureHandshake(link, { identity: generateNodeKey(), aead: nodeChaCha20Poly1305 });
  });
  cleanups.push(() => listener.close());
  const dialled = await transport.dial({ ...LOOPBACK, port: listener.addresses[0]!.port });
  cleanups.push(() => dialled.destroy());
  const a = await within(secureHandshake(dialled, { identity: generateNodeKey(), aead: nodeChaCha20Poly1305 }), 5000, 'dialler handshake');
  await waitFor(() => accepted !== undefined, 5000, 'inbound link');
  return [a, await within(accepted!, 5000, 'listener handshake')];
}

describe('a reader taking one tiny message at a time', () => {
  it('keeps what each pause leaves of a frame once (no copy of the rest per message), and gets every message in order', async () => {
    const [attackerLink, victimLink] = await tcpSecurePair();
    const count = 40_000; // ~3 frames of 64 KiB, ~13,000 one-byte messages each
    const channels = [{ id: CHANNEL, sendQueueCapacity: count, recvMessageCapacity: 1024 }];
    const received: number[] = [];
    const parkedBuffers = new Set<unknown>();
    let victim: MConnection | undefined = undefined;
    const decoder = (): { parked: Uint8Array | undefined } => (victim as unknown as { receiver: { decoder: { parked: Uint8Array | undefined } } }).receiver.decoder;
    victim = new MConnection(victimLink, channels, {
      onMessage: (_channelId, message) => {
        received.push(message[0]!);
        victim!.pause();
        // The rest of this frame is parked once the handler returns; note which buffer holds it.
        queueMicrotask(() => {
          const parked = decoder().parked;
          if (parked !== undefined) parkedBuffers.add(parked.buffer);
          setImmediate(() => victim!.resume());
        });
      },
      onClose: () => undefined,
    });
    victim.start();
    cleanups.push(() => victim!.destroy());
    const attacker = new MConnection(attackerLink, channels, { onMessage: () => undefined, onClose: () => undefined });
    attacker.start();
    cleanups.push(() => attacker.destroy());
    for (let i = 0; i < count; i++) expect(attacker.trySend(CHANNEL, new Uint8Array([i & 0xff]))).toBe(true);

    await waitFor(() => received.length === count, 30_000, 'every message read');
    expect(received.every((value, i) => value === (i & 0xff))).toBe(true);
    // One parked copy per frame (and per chunk that arrives while paused), not one per message: before,
    // each resume copied the rest of the frame again, ~40,000 buffers and ~1 GB copied here.
    expect(parkedBuffers.size).toBeGreaterThan(0);
    expect(parkedBuffers.size).toBeLessThan(100);
  }, 60_000);
});
