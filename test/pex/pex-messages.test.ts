import { describe, expect, it } from 'vitest';
import { encode } from '@msgpack/msgpack';
import { decodePexMessage, encodePexMessage, namesNode } from '../../src/pex/pex-messages.js';
import { ProtocolError } from '../../src/errors.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const ID = 'a'.repeat(40);

/** A response whose one address has the bytes 0xff 0xfe inside: not UTF-8. */
function responseWithInvalidUtf8(): Uint8Array {
  const bytes = encode({ type: 'pexResponse', addresses: [`memory://${ID}@n~~`] });
  const at = bytes.lastIndexOf(0x7e) - 1;
  bytes[at] = 0xff;
  bytes[at + 1] = 0xfe;
  return bytes;
}

describe('PEX messages', () => {
  it('pins the wire bytes of a pexRequest and a pexResponse', () => {
    expect(hex(encodePexMessage({ type: 'pexRequest' }))).toBe('81a474797065aa70657852657175657374');
    expect(hex(encodePexMessage({ type: 'pexResponse', addresses: [`memory://${ID}@n1`] }))).toBe(
      '82a474797065ab706578526573706f6e7365a961646472657373657391d934' + hex(new TextEncoder().encode(`memory://${ID}@n1`)),
    );
  });

  it('round-trips both messages', () => {
    expect(decodePexMessage(encodePexMessage({ type: 'pexRequest' }))).toEqual({ type: 'pexRequest' });
    const addresses = [`tcp://${ID}@1.2.3.4:26656`, `memory://${ID}@x`];
    expect(decodePexMessage(encodePexMessage({ type: 'pexResponse', addresses }))).toEqual({ type: 'pexResponse', addresses });
    expect(decodePexMessage(encodePexMessage({ type: 'pexResponse', addresses: [] }))).toEqual({ type: 'pexResponse', addresses: [] });
    // Text beyond ASCII decodes as the sender wrote it (the decoder turns address bytes into text itself).
    const named = [`memory://${ID}@nœud-ü-日本`, `wss://${ID}@relay.example:443/mesh`, `\uFEFFtcp://${ID}@1.2.3.4:1`];
    expect(decodePexMessage(encodePexMessage({ type: 'pexResponse', addresses: named }))).toEqual({ type: 'pexResponse', addresses: named });
  });

  it.each([
    ['garbage bytes', new Uint8Array([0xc1])],
    ['truncated msgpack', encodePexMessage({ type: 'pexRequest' }).subarray(0, 5)],
    ['a string', encode('pexRequest')],
    ['an array', encode([{ type: 'pexRequest' }])],
    ['nil', encode(null)],
    ['binary', encode(new Uint8Array(3))],
    ['a map without type', encode({ addresses: [] })],
    ['an unknown type', encode({ type: 'pexGossip' })],
    ['a numeric type', encode({ type: 1 })],
    ['a request with extra fields', encode({ type: 'pexRequest', addresses: [] })],
    ['a response without addresses', encode({ type: 'pexResponse' })],
    ['a response with extra fields', encode({ type: 'pexResponse', addresses: [], more: 1 })],
    ['addresses that are not an array', encode({ type: 'pexResponse', addresses: 'tcp://x' })],
    ['a non-string address', encode({ type: 'pexResponse', addresses: [`tcp://${ID}@1.2.3.4:1`, 7] })],
    ['an empty address', encode({ type: 'pexResponse', addresses: [''] })],
    ['an address over 1024 characters', encode({ type: 'pexResponse', addresses: ['x'.repeat(1025)] })],
    ['a binary address', encode({ type: 'pexResponse', addresses: [new TextEncoder().encode(`memory://${ID}@n1`)] })],
    ['a binary type', encode({ type: new TextEncoder().encode('pexRequest') })],
    ['an address that is not UTF-8', responseWithInvalidUtf8()],
  ])('rejects %s with ProtocolError ERR_MALFORMED_MESSAGE naming the peer', (_what, bytes) => {
    let error: unknown;
    try {
      decodePexMessage(bytes, ID);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ProtocolError);
    expect(error).toMatchObject({ code: 'ERR_MALFORMED_MESSAGE', peerId: ID });
  });

  it('tells whether an address names a node, in any spelling, parsing only addresses that contain the id', () => {
    const ours = 'b'.repeat(40);
    expect(namesNode(`tcp://${ours}@1.2.3.4:1`, ours)).toBe(true);
    expect(namesNode(`tcp://${ours.toUpperCase()}@1.2.3.4:1`, ours)).toBe(true);
    expect(namesNode(`webrtc://${ours}?via=${ID}`, ours)).toBe(true);
    expect(namesNode(`webrtc://${ID}?via=${ours}`, ours)).toBe(false);
    expect(namesNode(`tcp://${ID}@1.2.3.4:1`, ours)).toBe(false);
    expect(namesNode(`nonsense ${ours}`, ours)).toBe(false);
    expect(namesNode('tcp://1.2.3.4:1', ours)).toBe(false);
  });
});
