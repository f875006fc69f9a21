/**
 * The close packet (protocol 2): a connection that cuts its peer for the peer's own fault tells it
 * why first, bounded; the peer reports that reason instead of a reset. The reason is peer input:
 * decoded with tight limits, unknown codes mapped to ERR_PROTOCOL.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { closePacketFor, remoteCloseError } from '../../src/conn/close-reason.js';
import { CLOSE_REASON_LINGER_MS } from '../../src/conn/constants.js';
import { MConnection } from '../../src/conn/mconnection.js';
import { ClosedError, PeerRejectedError, ProtocolError, RemoteCloseError, SendError, TimeoutError } from '../../src/errors.js';
import { createMemoryLinkPair } from '../../src/transport/memory.js';
import { parseAddress } from '../../src/transport/address.js';
import type { Link } from '../../src/transport/link.js';
import type { Listener } from '../../src/transport/transport.js';
import { encodeMessage } from '../../src/wire/codec.js';
import { MAX_CLOSE_REASON_BYTES, PacketKind } from '../../src/wire/constants.js';
import { encodeClosePacket, PacketDecoder } from '../../src/wire/packet.js';
import { tcpTransport } from '../../platforms/node/tcp.js';
import { endpoint, type Endpoint } from '../helpers/mconn-pair.js';
import { waitFor, within } from '../helpers/wait.js';

const open: Endpoint[] = [];
const listeners: Listener[] = [];
afterEach(async () => {
  for (const e of open.splice(0)) e.conn.destroy();
  await Promise.all(listeners.splice(0).map((l) => l.close()));
});

describe('MConnection close reasons', () => {
  it('the sender on a channel the receiver lacks closes with the receiver’s ERR_UNKNOWN_CHANNEL', async () => {
    const [linkA, linkB] = createMemoryLinkPair();
    const a = endpoint(linkA, [{ id: 0x10 }, { id: 0x99 }]);
    const b = endpoint(linkB, [{ id: 0x10 }]);
    open.push(a, b);
    a.conn.trySend(0x99, new Uint8Array(3));
    const theirs = await within(b.closed, 3000, 'b closes');
    const ours = await within(a.closed, 3000, 'a closes');
    expect(theirs).toBeInstanceOf(ProtocolError);
    expect(ours).toBeInstanceOf(RemoteCloseError);
    expect(ours).toMatchObject({ code: 'ERR_UNKNOWN_CHANNEL', detail: { remoteMessage: 'Peer sent on unknown channel 0x99' } });
  });

  it('tells only the peer’s own faults: not timeouts, local closes, or a reason it gave us', () => {
    expect(closePacketFor(new ProtocolError('ERR_MALFORMED_PACKET', 'x'))?.[0]).toBe(PacketKind.Close);
    expect(closePacketFor(new PeerRejectedError('ERR_BANNED', 'banned'))).toBeDefined();
    expect(closePacketFor(undefined)).toBeUndefined();
    expect(closePacketFor(new TimeoutError('pong', { code: 'ERR_PONG_TIMEOUT' }))).toBeUndefined();
    expect(closePacketFor(new ClosedError('stopping'))).toBeUndefined();
    expect(closePacketFor(new RemoteCloseError('ERR_UNKNOWN_CHANNEL', 'theirs'))).toBeUndefined();
    // Our own usage errors (a send inside receive that could not go) are not the peer's fault.
    const local = remoteCloseError(closePacketFor(new SendError('ERR_UNKNOWN_CHANNEL', 'ours'))!.subarray(4));
    expect(local).toMatchObject({ code: 'ERR_PROTOCOL', detail: { remoteMessage: 'a message was refused by the remote application' } });
    const long = closePacketFor(new ProtocolError('ERR_PROTOCOL', 'y'.repeat(10_000)))!;
    expect(long.length).toBeLessThanOrEqual(4 + MAX_CLOSE_REASON_BYTES);
  });

  it('decodes a hostile reason with bounds: garbage, an unknown or non-peer code, an over-long text', () => {
    expect(remoteCloseError(new Uint8Array([0xc1, 0xff]))).toMatchObject({ code: 'ERR_PROTOCOL', message: 'Peer closed the connection: no reason given' });
    expect(remoteCloseError(encodeMessage(null))).toMatchObject({ code: 'ERR_PROTOCOL' });
    expect(remoteCloseError(encodeMessage({ code: 'ERR_HANDSHAKE', message: 'm' }))).toMatchObject({ code: 'ERR_PROTOCOL', detail: { remoteCode: 'ERR_HANDSHAKE' } });
    expect(remoteCloseError(encodeMessage({ code: 'ERR_RATE_LIMIT', message: 'z'.repeat(400) })).detail['remoteMessage']).toHaveLength(200);
    expect(remoteCloseError(encodeMessage([[[['deep']]]]))).toMatchObject({ code: 'ERR_PROTOCOL' });
  });

  it('the packet decoder refuses a close reason over the cap, and ignores whatever follows a close', () => {
    const seen: string[] = [];
    const handler = { onMsgPacket: () => void seen.push('msg'), onPing: () => void seen.push('ping'), onPong: () => undefined, onClosePacket: () => void seen.push('close') };
    const tooLong = new Uint8Array([PacketKind.Close, 0, (MAX_CLOSE_REASON_BYTES + 1) >> 8, (MAX_CLOSE_REASON_BYTES + 1) & 0xff]);
    expect(new PacketDecoder(handler).push(tooLong)).toMatchObject({ code: 'ERR_MALFORMED_PACKET' });
    const decoder = new PacketDecoder(handler);
    const close = encodeClosePacket(encodeMessage({ code: 'ERR_PROTOCOL', message: 'bye' }));
    // Split inside the header, then a ping and a message after the close.
    expect(decoder.push(close.subarray(0, 2))).toBeUndefined();
    expect(decoder.push(new Uint8Array([...close.subarray(2), PacketKind.Ping, PacketKind.MsgEnd, 0x10, 0, 0]))).toBeUndefined();
    expect(seen).toEqual(['close']);
  });

  it('over TCP: the close packet reaches a peer that never hangs up, whose link is cut after the linger', async () => {
    const transport = tcpTransport();
    let serverLink: Link | undefined;
    const listener = await transport.listen!(parseAddress('tcp://127.0.0.1:0'), (link) => (serverLink = link));
    listeners.push(listener);
    const raw = await transport.dial(parseAddress(`tcp://${listener.addresses[0]!.host}:${listener.addresses[0]!.port}`), {});
    const received: number[] = [];
    let ended = false;
    raw.attach({ onData: (chunk) => received.push(...chunk), onDrain: () => undefined, onClose: () => undefined, onEnd: () => void (ended = true) });
    await waitFor(() => serverLink !== undefined, 3000, 'accepted');
    const victim = endpoint(serverLink!, [{ id: 0x10 }]);
    open.push(victim);
    raw.write(new Uint8Array([0x7f])); // not a packet kind
    const error = await within(victim.closed, 3000, 'victim closes');
    const cutAt = Date.now();
    expect(error).toMatchObject({ code: 'ERR_MALFORMED_PACKET' });
    await waitFor(() => ended, 3000, 'the close packet, then the end of the stream');
    expect(received[0]).toBe(PacketKind.Close);
    const reason = remoteCloseError(new Uint8Array(received.slice(4)));
    expect(reason).toMatchObject({ code: 'ERR_MALFORMED_PACKET', detail: { remoteMessage: 'Unknown packet kind 0x7f' } });
    expect(serverLink!.closed).toBe(false); // lingering, half-closed, for the peer to read and hang up
    await waitFor(() => serverLink!.closed, CLOSE_REASON_LINGER_MS + 5000, 'the linger ends the link');
    expect(Date.now() - cutAt).toBeGreaterThanOrEqual(CLOSE_REASON_LINGER_MS - 100);
    raw.destroy();
    await transport.close?.();
  });

  it('an MConnection that receives a close reports it and does not answer with one of its own', async () => {
    const [linkA, linkB] = createMemoryLinkPair();
    const written: Uint8Array[] = [];
    const a = endpoint(linkA, [{ id: 0x10 }]);
    open.push(a);
    linkB.attach({ onData: (chunk) => written.push(chunk), onDrain: () => undefined, onClose: () => undefined });
    linkB.write(encodeClosePacket(encodeMessage({ code: 'ERR_PEX_REQUEST_TOO_SOON', message: 'slow down' })));
    expect(await within(a.closed, 3000, 'a closes')).toMatchObject({ name: 'RemoteCloseError', code: 'ERR_PEX_REQUEST_TOO_SOON' });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(written.some((chunk) => chunk[0] === PacketKind.Close)).toBe(false);
    expect(a.conn).toBeInstanceOf(MConnection);
  });
});
