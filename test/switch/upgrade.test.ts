import { describe, expect, it } from 'vitest';
import { createMemoryLinkPair } from '../../src/transport/memory.js';
import { generateNodeKey, type NodeKey } from '../../src/crypto/keys.js';
import { secureHandshake } from '../../src/conn/secure-link.js';
import { upgradeLink, type AdmissionDecision } from '../../src/switch/upgrade.js';
import { frameLinkMessage, LinkMessageReader } from '../../src/switch/link-messages.js';
import { PROTOCOL_VERSION, type NodeInfo } from '../../src/switch/node-info.js';
import { encodeMessage } from '../../src/wire/codec.js';
import { HandshakeError, PeerRejectedError, ProtocolError, TimeoutError } from '../../src/errors.js';

function info(key: NodeKey, overrides: Partial<NodeInfo> = {}): NodeInfo {
  return { id: key.nodeId, network: 'n', protocolVersion: PROTOCOL_VERSION, channels: [1], recvMessageCapacities: [1024], listenAddresses: [], moniker: '', software: 'test', ...overrides };
}

/**
 * A dialer that completes the secure handshake honestly, then sends `payload` instead of its NodeInfo
 * (or what `payload` makes of its real id).
 */
async function lyingDialer(payload: Uint8Array | ((dialerId: string) => Uint8Array), acceptorAdmit?: () => AdmissionDecision) {
  const [dialerLink, acceptorLink] = createMemoryLinkPair();
  const acceptorKey = generateNodeKey();
  const dialerKey = generateNodeKey();
  const accepting = upgradeLink(acceptorLink, {
    identity: acceptorKey,
    localInfo: info(acceptorKey),
    direction: 'inbound',
    timeoutMs: 1000,
    ...(acceptorAdmit ? { admit: acceptorAdmit } : {}),
  });
  const secure = await secureHandshake(dialerLink, { identity: dialerKey, expectedPeerId: acceptorKey.nodeId });
  secure.attach({ onData: () => undefined, onDrain: () => undefined, onClose: () => undefined });
  secure.write(typeof payload === 'function' ? payload(dialerKey.nodeId) : payload);
  return { accepting: accepting.catch((e: unknown) => e), dialerKey, acceptorKey };
}

describe('upgradeLink (NodeInfo and admission over a SecureLink)', () => {
  it('refuses a peer whose NodeInfo claims an id its key does not prove', async () => {
    const stranger = generateNodeKey();
    const { accepting } = await lyingDialer(frameLinkMessage(encodeMessage(info(stranger))));
    const error = await accepting;
    expect(error).toBeInstanceOf(HandshakeError);
    expect(String((error as Error).message)).toMatch(/claims id/);
  });

  it('refuses a protocol 1 peer (channel ids only, no capacities) as an incompatible version, naming both', async () => {
    const v1 = (id: string): Uint8Array => {
      const { recvMessageCapacities: _none, ...fields } = info(generateNodeKey(), { id, protocolVersion: '1.0.0' });
      return frameLinkMessage(encodeMessage(fields));
    };
    const { accepting } = await lyingDialer(v1);
    expect(await accepting).toMatchObject({
      name: 'HandshakeError',
      code: 'ERR_INCOMPATIBLE_PEER',
      message: 'Peer speaks protocol 1.0.0, incompatible with our 2.0.0: upgrade the older node',
    });
  });

  it('refuses a NodeInfo that is not valid msgpack, or not a NodeInfo', async () => {
    const garbage = await lyingDialer(frameLinkMessage(Uint8Array.of(0xc1, 0xc1, 0xc1)));
    expect(await garbage.accepting).toMatchObject({ code: 'ERR_MALFORMED_MESSAGE' });
    const wrongShape = await lyingDialer(frameLinkMessage(encodeMessage({ hello: 'world' })));
    expect(await wrongShape.accepting).toBeInstanceOf(HandshakeError);
  });

  it('refuses a handshake message over the size limit before buffering it', async () => {
    const header = new Uint8Array(4);
    new DataView(header.buffer).setUint32(0, 10 * 1024 * 1024);
    const { accepting } = await lyingDialer(header);
    const error = await accepting;
    expect(error).toBeInstanceOf(ProtocolError);
    expect(error).toMatchObject({ code: 'ERR_MESSAGE_TOO_LARGE' });
  });

  it('times out a peer that goes silent after the secure handshake', async () => {
    const { accepting } = await lyingDialer(new Uint8Array(0));
    expect(await accepting).toBeInstanceOf(TimeoutError);
  });

  it("tells the dialer why the acceptor refused it, with the acceptor's code", async () => {
    const [dialerLink, acceptorLink] = createMemoryLinkPair();
    const a = generateNodeKey();
    const b = generateNodeKey();
    const accepting = upgradeLink(acceptorLink, {
      identity: b,
      localInfo: info(b),
      direction: 'inbound',
      timeoutMs: 2000,
      admit: () => ({ accept: false, code: 'ERR_PEER_LIMIT', reason: 'inbound limit 0 reached' }),
    }).catch((e: unknown) => e);
    const dialing = upgradeLink(dialerLink, { identity: a, localInfo: info(a), direction: 'outbound', expectedPeerId: b.nodeId, timeoutMs: 2000 }).catch((e: unknown) => e);
    const [acceptorError, dialerError] = await Promise.all([accepting, dialing]);
    expect(acceptorError).toBeInstanceOf(PeerRejectedError);
    expect(dialerError).toBeInstanceOf(PeerRejectedError);
    expect(dialerError).toMatchObject({ code: 'ERR_PEER_LIMIT', peerId: b.nodeId });
    expect(String((dialerError as Error).message)).toMatch(/inbound limit 0 reached/);
  });

  it('hands bytes sent right after the handshake to the next stage', async () => {
    const [dialerLink, acceptorLink] = createMemoryLinkPair();
    const a = generateNodeKey();
    const b = generateNodeKey();
    const accepting = upgradeLink(acceptorLink, { identity: b, localInfo: info(b), direction: 'inbound', timeoutMs: 2000 });
    const dialing = upgradeLink(dialerLink, { identity: a, localInfo: info(a), direction: 'outbound', expectedPeerId: b.nodeId, timeoutMs: 2000 });
    const acceptor = await accepting;
    acceptor.link.write(Uint8Array.of(9, 8, 7));
    const dialer = await dialing;
    expect(dialer.remoteInfo.id).toBe(b.nodeId);
    const received: number[] = [...dialer.leftover];
    dialer.link.attach({ onData: (chunk) => received.push(...chunk), onDrain: () => undefined, onClose: () => undefined });
    dialer.link.resume();
    await new Promise((r) => setTimeout(r, 20));
    expect(received).toEqual([9, 8, 7]);
  });
});

describe('LinkMessageReader', () => {
  it('gathers a message that arrives one byte per chunk in linear work (1 MiB: 2^20 chunks)', { timeout: 60_000 }, async () => {
    const [writer, readerLink] = createMemoryLinkPair();
    writer.attach({ onData: () => undefined, onDrain: () => undefined, onClose: () => undefined });
    const size = 1024 * 1024;
    const reader = new LinkMessageReader(readerLink, size);
    const message = reader.next();
    const framed = frameLinkMessage(new Uint8Array(size).map((_, i) => i & 0xff));
    const started = performance.now();
    for (let offset = 0; offset < framed.length; offset++) {
      writer.write(framed.subarray(offset, offset + 1));
      if (offset % 4096 === 4095) await new Promise((resolve) => setImmediate(resolve));
    }
    const received = await message;
    expect(received.length).toBe(size);
    expect(received.every((byte, i) => byte === (i & 0xff))).toBe(true);
    // Copying the gathered bytes again for every chunk would be 2^39 bytes: hours, not seconds.
    expect(performance.now() - started, 'ms to gather (linear: well under the test timeout)').toBeLessThan(45_000);
  });
});
