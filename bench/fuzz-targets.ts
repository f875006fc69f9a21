/**
 * Fuzz targets: every decoder that reads bytes a peer (or a corrupted file on disk) controls, each
 * with a generator that mixes arbitrary bytes with inputs that know the format: valid messages,
 * mutated or spliced ones, msgpack bombs, absurd length prefixes. Run by bench/fuzz.ts (CLI) and
 * test/fuzz/fuzz.test.ts. The contract checked by the runner: a target returns, or throws one of
 * the MeshlinkError classes its decoder documents; anything else is a bug.
 */
import { bytesToHex } from '@noble/hashes/utils.js';
import fc from 'fast-check';
import { nodeChaCha20Poly1305 } from '../platforms/node/aead.js';
import { FrameDecoder } from '../src/conn/secure-link-frame.js';
import { nobleChaCha20Poly1305, type AeadFactory } from '../src/crypto/aead.js';
import { MAX_FRAME_PAYLOAD_BYTES } from '../src/crypto/constants.js';
import { ConfigError, HandshakeError, ProtocolError } from '../src/errors.js';
import { decodeAddressBook } from '../src/pex/address-book-format.js';
import { canonicalHost, classifyAddress, classifyHost, isRoutable } from '../src/transport/ip.js';
import { AddressBook } from '../src/pex/address-book.js';
import { decodePexMessage, namesNode } from '../src/pex/pex-messages.js';
import { screenRemoteSignal } from '../src/webrtc/remote-candidates.js';
import { mediaSectionsOf } from '../src/webrtc/remote-description.js';
import { decodeSignalMessage } from '../src/webrtc/signal-messages.js';
import { UpnpError } from '../src/nat/port-mapper.js';
import { parseDeviceDescription, parseSoapAnswer } from '../platforms/node/upnp/soap.js';
import { parseSsdpAnswer } from '../platforms/node/upnp/ssdp.js';
import { LinkMessageReader } from '../src/switch/link-messages.js';
import { MAX_NODE_INFO_BYTES, NODE_INFO_DECODE_LIMITS, parseNodeInfo } from '../src/switch/node-info.js';
import { endpointHost, parseAddress } from '../src/transport/address.js';
import { normalizeAddress } from '../src/transport/canonical-address.js';
import { decodeMessage } from '../src/wire/codec.js';
import { PacketDecoder } from '../src/wire/packet.js';
import { addressText, FIXED_ID, SELF } from './fuzz-addresses.js';
import { bookFile, deepJson } from './fuzz-book-file.js';
import { chunked, chunksOf, mutated, showChunked, spliced, utf8, type Chunked } from './fuzz-bytes.js';
import { gatewayText } from './fuzz-gateway-text.js';
import { nodeInfoValue, pexValue, signalValue } from './fuzz-messages.js';
import { msgpackValue, peerBytes, tampered } from './fuzz-msgpack.js';
import { FRAME_KEY, frameStream, handshakeStream, packetStream, PENDING, ScriptedLink, settledValue } from './fuzz-streams.js';

export type { Chunked } from './fuzz-bytes.js';

export interface FuzzTarget<T = unknown> {
  readonly name: string;
  readonly input: fc.Arbitrary<T>;
  /** Decodes one input; may throw one of `rejectsWith` (a clean rejection). */
  run(input: T): void | Promise<void>;
  /** The input as hex (plus split points), for failure reports. */
  show(input: T): string;
  /**
   * What the decoder documents it throws on bad input; anything else thrown (a TypeError, but also a
   * MeshlinkError of another class, which callers would misfile) is a bug. Empty: it never throws.
   */
  readonly rejectsWith: readonly ErrorClass[];
}

export type ErrorClass = abstract new (...args: never[]) => Error;

// ---- the targets --------------------------------------------------------------------------------

const define = <T>(target: FuzzTarget<T>): FuzzTarget => target as FuzzTarget;
const bytesTarget = (name: string, input: fc.Arbitrary<Uint8Array>, run: (bytes: Uint8Array) => unknown, rejectsWith: readonly ErrorClass[] = [ProtocolError]): FuzzTarget =>
  define<Uint8Array>({ name, input, run: (bytes) => void run(bytes), show: bytesToHex, rejectsWith });

/** Streaming decoders return their error instead of throwing it: the same contract applies, so throw it. */
function checkReturned(error: unknown): void {
  if (error !== undefined) throw error;
}

const frameTarget = (name: string, aead: AeadFactory): FuzzTarget =>
  define<Chunked>({
    name,
    input: chunked(frameStream),
    run(input) {
      const decoder = new FrameDecoder(aead(FRAME_KEY), MAX_FRAME_PAYLOAD_BYTES);
      for (const chunk of chunksOf(input)) checkReturned(decoder.push(chunk, () => undefined));
    },
    show: showChunked,
    rejectsWith: [ProtocolError],
  });

const NODE_INFO_FIELDS = ['id', 'network', 'protocolVersion', 'channels', 'recvMessageCapacities', 'listenAddresses', 'moniker', 'software'];

export const FUZZ_TARGETS: readonly FuzzTarget[] = [
  frameTarget('secure-link-frame/noble', nobleChaCha20Poly1305),
  frameTarget('secure-link-frame/node', nodeChaCha20Poly1305),
  define<Chunked>({
    name: 'packet',
    input: chunked(packetStream),
    run(input) {
      const decoder = new PacketDecoder({ onMsgPacket: () => undefined, onPing: () => undefined, onPong: () => undefined });
      for (const chunk of chunksOf(input)) checkReturned(decoder.push(chunk));
    },
    show: showChunked,
    rejectsWith: [ProtocolError],
  }),
  bytesTarget('msgpack', peerBytes(msgpackValue, { a: 0 }), (bytes) => decodeMessage(bytes)),
  bytesTarget('node-info', peerBytes(tampered(nodeInfoValue, NODE_INFO_FIELDS), { id: FIXED_ID, channels: 0 }), (bytes) =>
    parseNodeInfo(decodeMessage(bytes, NODE_INFO_DECODE_LIMITS), FIXED_ID), [ProtocolError, HandshakeError]),
  bytesTarget('pex', peerBytes(fc.oneof(pexValue, tampered(pexValue, ['type', 'addresses'])), { type: 'pexResponse', addresses: 0 }), (bytes) => {
    const message = decodePexMessage(bytes, FIXED_ID);
    if (message.type !== 'pexResponse') return;
    message.addresses.some((address) => namesNode(address, FIXED_ID));
    // What the PEX agent does with an answer: any hostile list either refuses or adds within the caps.
    const book = new AddressBook({ allowLocal: true, ourNodeId: FIXED_ID });
    const { added, refused } = book.tryAddAddresses(message.addresses, `tcp://${'c'.repeat(40)}@8.8.4.4:26656`, 100);
    if ((refused !== undefined && book.size() !== 0) || added > 100 || book.size() !== added) throw new Error(`batch add broke its contract: added ${added}, size ${book.size()}`);
  }),
  bytesTarget('signal', peerBytes(signalValue, { type: 'signal', from: FIXED_ID, to: FIXED_ID, data: 0 }), (bytes) => {
    const message = decodeSignalMessage(bytes);
    if (message.type !== 'signal') return;
    // What a negotiation does with a remote's signal before the RTCPeerConnection sees it.
    if (message.data.type !== 'candidate') mediaSectionsOf(message.data.sdp);
    screenRemoteSignal(message.data);
    screenRemoteSignal(message.data, { allowLoopback: true, tcpRoom: 1 });
  }),
  define<string>({
    name: 'address',
    input: addressText.map((a) => a.replace(SELF, FIXED_ID)),
    run(text) {
      classifyHost(text);
      canonicalHost(text);
      endpointHost(text);
      namesNode(text, FIXED_ID);
      const normal = normalizeAddress(text);
      // parseNodeInfo re-parses normalizeAddress's output outside any try: it must parse, to itself.
      if (normal !== undefined && normalizeAddress(normal) !== normal) {
        const again = normalizeAddress(normal);
        throw new Error(`normalizeAddress is not idempotent: ${normal.length} chars ${JSON.stringify(normal.slice(0, 80))}… -> ${again === undefined ? 'undefined' : JSON.stringify(again.slice(0, 80))}`);
      }
      const address = parseAddress(text);
      classifyAddress(address);
      isRoutable(address);
      canonicalHost(address.host);
    },
    show: (text) => `${bytesToHex(utf8(text))} ${JSON.stringify(text)}`,
    rejectsWith: [ConfigError],
  }),
  define<Chunked>({
    name: 'link-messages',
    input: chunked(handshakeStream),
    async run(input) {
      const link = new ScriptedLink();
      const reader = new LinkMessageReader(link, MAX_NODE_INFO_BYTES);
      let next = reader.next(); // outstanding before any data: the waiter path
      for (const chunk of chunksOf(input)) {
        link.deliver(chunk);
        while ((await settledValue(next)) !== PENDING) next = reader.next();
      }
      reader.detach();
    },
    show: showChunked,
    rejectsWith: [ProtocolError],
  }),
  define<string>({
    name: 'upnp-gateway-text',
    input: gatewayText,
    run(text) {
      parseSsdpAnswer(text, '10.0.0.1');
      parseDeviceDescription(text, 'http://10.0.0.1:5000/d.xml');
      for (const status of [200, 500]) {
        try {
          parseSoapAnswer('A', status, text);
        } catch (error) {
          if (!(error instanceof UpnpError)) throw error;
        }
      }
    },
    show: (text) => JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}… (${text.length} chars)` : text),
    rejectsWith: [],
  }),
  bytesTarget('address-book-file', fc.oneof(
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: 512 }) },
    { weight: 2, arbitrary: bookFile },
    { weight: 4, arbitrary: mutated(bookFile) },
    { weight: 1, arbitrary: spliced(bookFile) },
    { weight: 1, arbitrary: deepJson },
  ), decodeAddressBook, []), // it reports every problem as { ok: false, reason }
];
