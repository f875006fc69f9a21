/**
 * CPU per byte a peer can make us spend under `recvRateBytesPerSec`: the limit charges each chunk (a
 * sealed frame) and each delivered message a minimum, since their cost does not shrink with their size.
 * Over real TCP and a real secure handshake (the last test: a link handing over one chunk at a time, to
 * count pauses); the victim's MConnection runs on a manual clock (time stands still unless the test moves
 * it, so the bucket never refills on its own and every count is exact).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { nodeChaCha20Poly1305 } from '../../platforms/node/aead.js';
import { tcpTransport } from '../../platforms/node/tcp.js';
import { RECV_CHUNK_MIN_CHARGE_BYTES, RECV_MESSAGE_MIN_CHARGE_BYTES } from '../../src/conn/constants.js';
import { MConnection } from '../../src/conn/mconnection.js';
import { secureHandshake, type SecureLink } from '../../src/conn/secure-link.js';
import type { FrameEncoder } from '../../src/conn/secure-link-frame.js';
import { generateNodeKey } from '../../src/crypto/keys.js';
import type { Link, LinkHandlers } from '../../src/transport/link.js';
import { systemClock, type Clock, type TimerHandle } from '../../src/util/clock.js';
import { writeMsgPacket } from '../../src/wire/packet.js';
import { sleep } from './harness.js';
import { waitFor } from '../helpers/wait.js';

const LOOPBACK = { protocol: 'tcp', nodeId: undefined, host: '127.0.0.1', port: 0, path: '', params: {} } as const;
const CH = 0x40;
const MARKER_CH = 0x41;
/** 100 KiB/s: a bucket of 10 KiB (RATE_LIMIT_BURST_MS, 100 ms of it). */
const RATE_BYTES_PER_SEC = 100 * 1024;
const BUCKET_BYTES = RATE_BYTES_PER_SEC / 10;
const noop = (): void => undefined;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Time moves only by `advance`; timers fire then. Intervals never do (no keep-alive pings). */
function manualClock(): { clock: Clock; advance(ms: number): void } {
  let nowMs = 1_000_000;
  let nextId = 1;
  const timers = new Map<number, { at: number; callback: () => void }>();
  const clock: Clock = {
    now: () => nowMs,
    setTimeout: (callback, delayMs) => {
      const id = nextId++;
      timers.set(id, { at: nowMs + delayMs, callback });
      return id as unknown as TimerHandle;
    },
    clearTimeout: (handle) => void timers.delete(handle as unknown as number),
    setInterval: () => 0 as unknown as TimerHandle,
    clearInterval: noop,
    afterBurst: systemClock.afterBurst,
  };
  return {
    clock,
    advance(ms) {
      nowMs += ms;
      for (const [id, timer] of [...timers]) {
        if (timer.at > nowMs) continue;
        timers.delete(id);
        timer.callback();
      }
    },
  };
}

interface Scene {
  /** Messages the victim delivered, per channel. */
  delivered: Map<number, number>;
  victim: MConnection;
  advance(ms: number): void;
  /** Seals `plaintexts` into frames of their own with the attacker's session keys; one TCP write. */
  sendFrames(plaintexts: readonly Uint8Array[]): void;
}

/** A victim MConnection with `recvRateBytesPerSec` over a real TCP SecureLink, and a raw attacker. */
async function startScene(): Promise<Scene> {
  const { clock, advance } = manualClock();
  const delivered = new Map<number, number>([[CH, 0], [MARKER_CH, 0]]);
  let victim: MConnection | undefined;
  const listener = await tcpTransport().listen!(LOOPBACK, (link) => {
    void secureHandshake(link, { identity: generateNodeKey(), aead: nodeChaCha20Poly1305 }).then((secure) => {
      const channels = [CH, MARKER_CH].map((id) => ({ id, priority: 1, sendQueueCapacity: 16, recvMessageCapacity: 1024 }));
      victim = new MConnection(secure, channels, { onMessage: (channelId) => void delivered.set(channelId, delivered.get(channelId)! + 1), onClose: noop }, { recvRateBytesPerSec: RATE_BYTES_PER_SEC }, clock);
      victim.start();
    }, noop);
  });
  const link = await tcpTransport().dial({ ...LOOPBACK, port: listener.addresses[0]!.port });
  const attacker: SecureLink = await secureHandshake(link, { identity: generateNodeKey(), aead: nodeChaCha20Poly1305 });
  attacker.attach({ onData: noop, onDrain: noop, onClose: noop });
  cleanups.push(async () => {
    victim?.destroy();
    attacker.destroy();
    await listener.close();
  });
  await waitFor(() => victim !== undefined, 5000, 'the victim connection');
  const { encoder, link: raw } = attacker as unknown as { encoder: FrameEncoder; link: Link };
  return {
    delivered,
    victim: victim!,
    advance,
    sendFrames(plaintexts) {
      const frames = plaintexts.map((plaintext) => encoder.encode(plaintext).slice());
      const out = new Uint8Array(frames.reduce((sum, frame) => sum + frame.length, 0));
      frames.reduce((offset, frame) => (out.set(frame, offset), offset + frame.length), 0);
      raw.write(out);
    },
  };
}

/** Back-to-back whole messages on `channelId`, each `size` bytes. */
function messages(channelId: number, size: number, count: number): Uint8Array {
  const out = new Uint8Array(count * (4 + size));
  const payload = new Uint8Array(size).fill(7);
  for (let i = 0, offset = 0; i < count; i++) offset = writeMsgPacket(out, offset, channelId, payload, 0, size, true);
  return out;
}

describe('recvRateBytesPerSec charges work, not only bytes', () => {
  it('charges each sealed frame at least RECV_CHUNK_MIN_CHARGE_BYTES: one-byte messages in frames of their own pause the peer after the bucket', async () => {
    const scene = await startScene();
    // 2,000 frames of one one-byte message each (25 bytes on the wire, 5 of plaintext): 10,000 bytes, under
    // the 10 KiB bucket at their own size, so the old code took them all at once.
    scene.sendFrames(Array.from({ length: 2000 }, () => messages(CH, 1, 1)));
    await waitFor(() => scene.delivered.get(CH)! > 0, 5000, 'the first frames delivered');
    await sleep(300);
    const perFrame = RECV_CHUNK_MIN_CHARGE_BYTES + RECV_MESSAGE_MIN_CHARGE_BYTES - 1;
    expect(scene.delivered.get(CH)).toBe(Math.ceil(BUCKET_BYTES / perFrame)); // 9 (before: 2,000)
    // Paused, not cut: as time passes the rest arrives, every message once.
    expect(scene.victim.state).toBe('open');
    for (let i = 0; i < 1000 && scene.delivered.get(CH)! < 2000; i++) {
      scene.advance(1000);
      await sleep(2);
    }
    expect(scene.delivered.get(CH)).toBe(2000);
    expect(scene.victim.state).toBe('open');
  });

  it('charges each delivered message at least RECV_MESSAGE_MIN_CHARGE_BYTES: a frame of 2,000 empty messages holds back what follows', async () => {
    const scene = await startScene();
    // 8,000 bytes of plaintext at wire size (under the bucket), 256,000 at 128 bytes a message.
    scene.sendFrames([messages(CH, 0, 2000), messages(MARKER_CH, 1, 1)]);
    await waitFor(() => scene.delivered.get(CH)! === 2000, 5000, 'the empty messages delivered');
    await sleep(300);
    expect(scene.delivered.get(MARKER_CH)).toBe(0); // before: 1, at once
    expect(scene.victim.state).toBe('open');
    // The debt is waited off at the configured rate: 2.5 s of it, then the marker comes.
    scene.advance(1000);
    await sleep(50);
    expect(scene.delivered.get(MARKER_CH)).toBe(0);
    for (let i = 0; i < 10 && scene.delivered.get(MARKER_CH) === 0; i++) {
      scene.advance(1000);
      await sleep(20);
    }
    expect(scene.delivered.get(MARKER_CH)).toBe(1);
  });

  it('charges every frame opened while the victim was paused, though such frames come packed thousands to a chunk', async () => {
    const scene = await startScene();
    // 1,000 frames of one 128-byte message each (132 bytes of plaintext): no message minimum applies.
    scene.sendFrames(Array.from({ length: 1000 }, () => messages(CH, 128, 1)));
    await waitFor(() => scene.delivered.get(CH)! > 0, 5000, 'the first frames delivered');
    await sleep(200);
    expect(scene.delivered.get(CH)).toBe(BUCKET_BYTES / RECV_CHUNK_MIN_CHARGE_BYTES); // 10: the bucket, a frame at a time
    // One second at 100 KiB/s: 100 more frames' worth, and at most one chunk beyond it (frames held while
    // paused are packed into blocks of at most 16 KiB: 124 of these). Charged by its size, each block of
    // them passed as if it held one eighth as many frames: ~750 in that second.
    for (let ms = 0; ms < 1000; ms += 10) {
      scene.advance(10);
      await sleep(3);
    }
    expect(scene.delivered.get(CH)).toBeLessThanOrEqual(10 + 100 + 124);
    expect(scene.victim.state).toBe('open');
  });

  it('resumes a paused peer with half the bucket refilled, not at its first byte: one pause per few frames, not per frame', async () => {
    const { clock, advance } = manualClock();
    let delivered = 0;
    // A socket-like link that hands over one chunk (a frame's plaintext: one one-byte message) at a time.
    const link = new ChunkSource(messages(CH, 1, 1));
    const channels = [{ id: CH, priority: 1, sendQueueCapacity: 16, recvMessageCapacity: 1024 }];
    const victim = new MConnection(link, channels, { onMessage: () => void delivered++, onClose: noop }, { recvRateBytesPerSec: RATE_BYTES_PER_SEC }, clock);
    victim.start();
    cleanups.push(() => victim.destroy());
    for (let ms = 0; ms < 2000; ms++) {
      advance(1);
      link.pump();
      await Promise.resolve();
    }
    // 2 s at 100 KiB/s and 1,151 bytes a frame (1 KiB, and 127 for the message): the bucket and ~178 more.
    expect(delivered).toBeGreaterThan(150);
    expect(delivered).toBeLessThanOrEqual(Math.ceil((BUCKET_BYTES + 2 * RATE_BYTES_PER_SEC) / 1151) + 1);
    // Before: paused and resumed for every frame (~180 times); now once per ~5 KiB of charge.
    expect(link.pauses).toBeLessThanOrEqual(delivered / 4);
  });
});

/** Hands the same chunk to its owner each time `pump` finds it not paused. Counts pauses. */
class ChunkSource implements Link {
  readonly transport = 'memory';
  readonly remoteAddress = 'memory:chunks';
  readonly bufferedBytes = 0;
  readonly closed = false;
  pauses = 0;
  private paused = true;
  private handlers: LinkHandlers | undefined;
  constructor(private readonly chunk: Uint8Array) {}
  attach(handlers: LinkHandlers): void {
    this.handlers = handlers;
  }
  pump(): void {
    if (!this.paused) this.handlers?.onData(this.chunk.slice());
  }
  write(): boolean {
    return true;
  }
  pause(): void {
    if (!this.paused) this.pauses++;
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
  close(): void {}
  destroy(): void {}
}
