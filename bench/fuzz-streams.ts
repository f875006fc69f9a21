/**
 * Fuzz inputs for the stream decoders (sealed frames, packets, length-prefixed handshake messages), and
 * a Link the fuzzer drives, for decoders that read from one.
 */
import fc from 'fast-check';
import { FrameEncoder } from '../src/conn/secure-link-frame.js';
import { nobleChaCha20Poly1305 } from '../src/crypto/aead.js';
import { MAX_FRAME_PAYLOAD_BYTES } from '../src/crypto/constants.js';
import { MAX_NODE_INFO_BYTES } from '../src/switch/node-info.js';
import type { Link, LinkHandlers } from '../src/transport/link.js';
import { concat, mutated, spliced, u16, u32 } from './fuzz-bytes.js';

export const FRAME_KEY = Uint8Array.from({ length: 32 }, (_, i) => i * 7);
const sealedFrames = fc
  .array(fc.oneof({ weight: 30, arbitrary: fc.uint8Array({ maxLength: 300 }) }, fc.nat(MAX_FRAME_PAYLOAD_BYTES).map((n) => new Uint8Array(n))), { maxLength: 5 })
  .map((payloads) => {
    const encoder = new FrameEncoder(nobleChaCha20Poly1305(FRAME_KEY), MAX_FRAME_PAYLOAD_BYTES);
    return concat(payloads.map((payload) => encoder.encode(payload)));
  });
const maxSealed = MAX_FRAME_PAYLOAD_BYTES + 16;
const frameLengthPrefix = fc
  .tuple(fc.oneof(fc.constantFrom(0xffffffff, 0x80000000, maxSealed, maxSealed + 1, 16, 15, 0), fc.nat()), fc.uint8Array({ maxLength: 64 }))
  .map(([length, tail]) => concat([u32(length), tail]));
export const frameStream = fc.oneof(fc.uint8Array({ maxLength: 512 }), sealedFrames, mutated(sealedFrames), spliced(sealedFrames), frameLengthPrefix);

const packet = fc
  .record({ kind: fc.oneof(fc.constantFrom(1, 2, 3, 4), fc.nat(255)), channel: fc.nat(255), length: fc.option(fc.nat(0xffff)), payload: fc.uint8Array({ maxLength: 300 }) })
  .map((p) => (p.kind === 3 || p.kind === 4 ? Uint8Array.of(p.kind) : concat([[p.kind, p.channel, ...u16(p.length ?? p.payload.length)], p.payload])));
const packets = fc.array(packet, { maxLength: 8 }).map(concat);
export const packetStream = fc.oneof(fc.uint8Array({ maxLength: 512 }), packets, mutated(packets));

const handshakeMessage = fc
  .record({ declared: fc.option(fc.oneof(fc.nat(MAX_NODE_INFO_BYTES + 8), fc.constantFrom(0xffffffff, MAX_NODE_INFO_BYTES, MAX_NODE_INFO_BYTES + 1))), body: fc.uint8Array({ maxLength: 200 }) })
  .map(({ declared, body }) => concat([u32(declared ?? body.length), body]));
export const handshakeStream = fc.oneof(fc.uint8Array({ maxLength: 512 }), fc.array(handshakeMessage, { maxLength: 6 }).map(concat));

/** A Link driven by the fuzzer; honours pause/resume (data waits, as in the kernel) to give LinkMessageReader real backpressure. */
export class ScriptedLink implements Link {
  readonly transport = 'memory';
  readonly remoteAddress = 'fuzz';
  readonly bufferedBytes = 0;
  closed = false;
  private handlers: LinkHandlers | undefined;
  private paused = false;
  private delivering = false;
  private readonly waiting: Uint8Array[] = [];

  attach(handlers: LinkHandlers): void { this.handlers = handlers; }
  write(): boolean { return !this.closed; }
  pause(): void { this.paused = true; }
  resume(): void { this.paused = false; this.deliver(); }
  close(): void { this.destroy(); }
  destroy(error?: Error): void {
    if (!this.closed) this.handlers?.onClose(error);
    this.closed = true;
  }
  /** Queues a chunk from the "network" and delivers what backpressure allows. */
  deliver(chunk?: Uint8Array): void {
    if (chunk !== undefined) this.waiting.push(chunk);
    if (this.delivering) return; // resume() from inside onData: the outer loop carries on
    this.delivering = true;
    while (!this.paused && !this.closed && this.waiting.length > 0) this.handlers?.onData(this.waiting.shift()!);
    this.delivering = false;
  }
}

export const PENDING = Symbol('pending');
/** The promise's value if it has settled by now (rejections are thrown), else PENDING. */
export const settledValue = <T>(promise: Promise<T>): Promise<T | typeof PENDING> => Promise.race([promise, Promise.resolve(PENDING)]);
