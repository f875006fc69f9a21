import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { nodeChaCha20Poly1305 } from '../../platforms/node/aead.js';
import { nodeHandshakeCrypto } from '../../platforms/node/handshake-crypto.js';
import { tcpTransport } from '../../platforms/node/tcp.js';
import { secureHandshake, type SecureHandshakeOptions, type SecureLink } from '../../src/conn/secure-link.js';
import { FrameEncoder } from '../../src/conn/secure-link-frame.js';
import { nobleChaCha20Poly1305 } from '../../src/crypto/aead.js';
import { nobleHandshakeCrypto } from '../../src/crypto/handshake-crypto.js';
import { generateNodeKey } from '../../src/crypto/keys.js';
import { HandshakeError, TimeoutError } from '../../src/errors.js';
import type { Link } from '../../src/transport/link.js';
import type { Listener } from '../../src/transport/transport.js';
import { waitFor, within } from '../helpers/wait.js';
import { collect, concat } from './secure-link-fixtures.js';

const LOOPBACK = { protocol: 'tcp', nodeId: undefined, host: '127.0.0.1', port: 0, path: '', params: {} } as const;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Served {
  port: number;
  /** Settles with each inbound handshake's outcome, in accept order. */
  next(): Promise<SecureLink | Error>;
  links: Link[];
}

/** A TCP listener that runs secureHandshake on every accepted link. */
async function serve(options: Omit<SecureHandshakeOptions, 'identity'> & { identity?: SecureHandshakeOptions['identity'] } = {}): Promise<Served> {
  const transport = tcpTransport();
  const identity = options.identity ?? generateNodeKey();
  const outcomes: Promise<SecureLink | Error>[] = [];
  const links: Link[] = [];
  const listener: Listener = await transport.listen!(LOOPBACK, (link) => {
    links.push(link);
    outcomes.push(secureHandshake(link, { ...options, identity }).catch((e: unknown) => e as Error));
  });
  cleanups.push(async () => {
    links.forEach((l) => l.destroy());
    await listener.close();
  });
  let taken = 0;
  return {
    port: listener.addresses[0]!.port,
    links,
    next: async () => {
      await waitFor(() => outcomes.length > taken, 5000, 'inbound connection');
      return within(outcomes[taken++]!, 5000, 'inbound handshake');
    },
  };
}

async function dial(port: number): Promise<Link> {
  const link = await tcpTransport().dial({ ...LOOPBACK, port });
  cleanups.push(() => link.destroy());
  return link;
}

describe('secureHandshake over TCP on 127.0.0.1', () => {
  it('lets dialer and listener learn each other\'s ids and exchange a megabyte both ways', async () => {
    const listenerKey = generateNodeKey();
    const server = await serve({ identity: listenerKey, aead: nodeChaCha20Poly1305 });
    const dialerKey = generateNodeKey();
    const a = await secureHandshake(await dial(server.port), { identity: dialerKey, expectedPeerId: listenerKey.nodeId, aead: nodeChaCha20Poly1305 });
    const b = (await server.next()) as SecureLink;
    expect(a.remoteNodeId).toBe(listenerKey.nodeId);
    expect(b.remoteNodeId).toBe(dialerKey.nodeId);
    expect(a.transport).toBe('tcp');
    const atA = collect(a);
    const atB = collect(b);
    const payload = new Uint8Array(1024 * 1024).map((_, i) => (i * 7) & 0xff);
    for (let i = 0; i < payload.length; i += 16 * 1024) a.write(payload.subarray(i, i + 16 * 1024));
    b.write(payload);
    await waitFor(() => atA.bytes().length === payload.length && atB.bytes().length === payload.length, 10_000, 'a megabyte each way');
    expect(Buffer.from(atB.bytes()).equals(Buffer.from(payload))).toBe(true);
    expect(Buffer.from(atA.bytes()).equals(Buffer.from(payload))).toBe(true);
  });

  it('interoperates with Node-native AEAD on the listener and noble on the dialer', async () => {
    const server = await serve({ aead: nodeChaCha20Poly1305 });
    const a = await secureHandshake(await dial(server.port), { identity: generateNodeKey(), aead: nobleChaCha20Poly1305 });
    const b = (await server.next()) as SecureLink;
    const atA = collect(a);
    const atB = collect(b);
    a.write(new TextEncoder().encode('from noble'));
    b.write(new TextEncoder().encode('from node'));
    await waitFor(() => atA.text() === 'from node' && atB.text() === 'from noble', 5000, 'interop');
  });

  it('authenticates both ends with OpenSSL\'s X25519 and ed25519 on one side and noble\'s on the other, either way round', async () => {
    for (const [dialerCrypto, listenerCrypto] of [[nodeHandshakeCrypto, nobleHandshakeCrypto], [nobleHandshakeCrypto, nodeHandshakeCrypto]] as const) {
      const listenerKey = generateNodeKey();
      const server = await serve({ identity: listenerKey, handshakeCrypto: listenerCrypto });
      const dialerKey = generateNodeKey();
      const a = await secureHandshake(await dial(server.port), { identity: dialerKey, expectedPeerId: listenerKey.nodeId, handshakeCrypto: dialerCrypto });
      const b = (await server.next()) as SecureLink;
      expect([a.remoteNodeId, b.remoteNodeId]).toEqual([listenerKey.nodeId, dialerKey.nodeId]);
      const atB = collect(b);
      a.write(new TextEncoder().encode('sealed after a mixed handshake'));
      await waitFor(() => atB.text() === 'sealed after a mixed handshake', 5000, 'data after the handshake');
    }
  });

  it('cuts a peer sending empty frames (each an AEAD open that no byte count saw) with ERR_PROTOCOL', async () => {
    const server = await serve({ aead: nodeChaCha20Poly1305 });
    const a = await secureHandshake(await dial(server.port), { identity: generateNodeKey(), aead: nodeChaCha20Poly1305 });
    const b = (await server.next()) as SecureLink;
    const atB = collect(b);
    a.write(new TextEncoder().encode('before'));
    await waitFor(() => atB.text() === 'before', 5000, 'an honest frame first');
    // The attacker seals frames itself, behind its session: 1,000 empty ones in one TCP write.
    const { encoder, link } = a as unknown as { encoder: FrameEncoder; link: Link };
    link.write(concat(Array.from({ length: 1000 }, () => encoder.encode(new Uint8Array(0)).slice())));
    const error = await within(atB.closed, 5000, 'the victim cuts the link');
    expect((error as { code?: string } | undefined)?.code).toBe('ERR_PROTOCOL');
    expect(atB.text()).toBe('before');
  });

  it('fails the dialer with ERR_WRONG_PEER_ID when the listener is someone else', async () => {
    const server = await serve();
    const link = await dial(server.port);
    const wanted = generateNodeKey().nodeId;
    const error = await secureHandshake(link, { identity: generateNodeKey(), expectedPeerId: wanted }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HandshakeError);
    expect((error as HandshakeError).code).toBe('ERR_WRONG_PEER_ID');
    expect(link.closed).toBe(true);
    await server.next();
  });

  it('times out against a listener that accepts and never speaks', async () => {
    const silent = await tcpTransport().listen!(LOOPBACK, (link) => cleanups.push(() => link.destroy()));
    cleanups.push(() => silent.close());
    const link = await dial(silent.addresses[0]!.port);
    const error = await secureHandshake(link, { identity: generateNodeKey(), timeoutMs: 150 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(link.closed).toBe(true);
  });

  it('rejects a raw client sending garbage instead of a hello, and hangs up on it', async () => {
    const server = await serve();
    const socket = net.connect(server.port, '127.0.0.1');
    cleanups.push(() => void socket.destroy());
    const hungUp = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('error', () => undefined);
    socket.resume(); // drain the server's hello, or 'close' waits for it to be read
    socket.write('SSH-2.0-OpenSSH_9.6 definitely not meshlink\r\n');
    const outcome = await server.next();
    expect(outcome).toBeInstanceOf(HandshakeError);
    expect((outcome as HandshakeError).code).toBe('ERR_HANDSHAKE');
    await within(hungUp, 5000, 'server hang-up');
  });

  it('closes the listener side with ERR_FRAME_TOO_LARGE when raw bytes declare an oversize frame', async () => {
    const server = await serve();
    const link = await dial(server.port);
    await secureHandshake(link, { identity: generateNodeKey() });
    const b = (await server.next()) as SecureLink;
    const atB = collect(b);
    link.write(Uint8Array.of(0x00, 0x10, 0x00, 0x11));
    expect(await within(atB.closed, 5000, 'close')).toMatchObject({ name: 'ProtocolError', code: 'ERR_FRAME_TOO_LARGE' });
    await waitFor(() => link.closed, 5000, 'dialer socket closed');
  });

  it('closes the listener side with ERR_DECRYPT when raw bytes carry a forged frame', async () => {
    const server = await serve();
    const link = await dial(server.port);
    const a = await secureHandshake(link, { identity: generateNodeKey() });
    const b = (await server.next()) as SecureLink;
    const atB = collect(b);
    const atA = collect(a);
    link.write(new FrameEncoder(nobleChaCha20Poly1305(new Uint8Array(32).fill(1)), 1024).encode(new Uint8Array(10)));
    expect(await within(atB.closed, 5000, 'close')).toMatchObject({ name: 'ProtocolError', code: 'ERR_DECRYPT' });
    await within(atA.closed, 5000, 'dialer sees the hang-up');
  });

  it('keeps frames queued while the owner is paused intact when other dialled links reuse the read buffer', async () => {
    const server = await serve({ aead: nodeChaCha20Poly1305 });
    const a = await secureHandshake(await dial(server.port), { identity: generateNodeKey(), aead: nodeChaCha20Poly1305 });
    const b = (await server.next()) as SecureLink;
    const received: Uint8Array[] = [];
    // Pausing at the first frame leaves the rest of its chunk (b's writes arrive in one read, being
    // made in one turn of this process) queued in the session.
    a.attach({ onData: (chunk) => void (received.push(chunk), a.pause()), onDrain: () => undefined, onClose: () => undefined });
    const sent = Array.from({ length: 20 }, (_, i) => new Uint8Array(300 + i).fill(i + 1));
    for (const message of sent) b.write(message);
    await waitFor(() => received.length === 1, 5000, 'the first frame');
    // Another dialled pair reads into the same buffer meanwhile.
    const c = await secureHandshake(await dial(server.port), { identity: generateNodeKey(), aead: nodeChaCha20Poly1305 });
    const d = (await server.next()) as SecureLink;
    const atC = collect(c);
    const noise = new Uint8Array(200_000).fill(0xee);
    d.write(noise);
    await waitFor(() => atC.bytes().length === noise.length, 10_000, 'the other pair\'s data');
    const expected = concat(sent);
    // Held frames may come packed together (chunk boundaries carry no meaning): count bytes, not chunks.
    const receivedBytes = (): number => received.reduce((n, chunk) => n + chunk.length, 0);
    while (receivedBytes() < expected.length) {
      a.resume();
      const before = receivedBytes();
      await waitFor(() => receivedBytes() > before, 5000, 'the next queued bytes');
    }
    expect(Buffer.from(concat(received)).equals(Buffer.from(expected))).toBe(true);
  });
});
