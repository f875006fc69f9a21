/**
 * `npx tsx bench/secure-frame-micro.ts [batchBytes] [readBytes]` — CPU cost of the encrypted path
 * alone, in steady state: FrameEncoder.encode of one batch after another, the byte stream re-cut into
 * `readBytes` socket-like reads (default 64 KiB, as Node reads), FrameDecoder.push. No sockets, one
 * process, so the numbers are far steadier than the end-to-end bench. Prints µs per frame.
 */
import { randomBytes } from 'node:crypto';
import { nodeChaCha20Poly1305 } from '../platforms/node/aead.js';
import { FrameDecoder, FrameEncoder } from '../src/conn/secure-link-frame.js';

const KIB = 1024;
const key = randomBytes(32);
const batchBytes = Number(process.argv[2] ?? 64 * KIB);
const readBytes = Number(process.argv[3] ?? 64 * KIB);
const frames = 20_000;

function run(): { sealUs: number; openUs: number; totalUs: number } {
  const enc = new FrameEncoder(nodeChaCha20Poly1305(key), 64 * KIB);
  const dec = new FrameDecoder(nodeChaCha20Poly1305(key), 64 * KIB);
  // Socket-like reader: a fresh buffer per read, filled from the written frames.
  let read = Buffer.allocUnsafe(readBytes);
  let filled = 0;
  let got = 0;
  let sealMs = 0;
  let openMs = 0;
  const sink = (p: Uint8Array): void => {
    got += p.length;
  };
  const started = performance.now();
  for (let i = 0; i < frames; i++) {
    const batch = new Uint8Array(batchBytes).fill(i & 0xff);
    let t = performance.now();
    const frame = enc.encode(batch);
    sealMs += performance.now() - t;
    for (let o = 0; o < frame.length; ) {
      const take = Math.min(readBytes - filled, frame.length - o);
      read.set(frame.subarray(o, o + take), filled);
      filled += take;
      o += take;
      if (filled === readBytes) {
        t = performance.now();
        const e = dec.push(read, sink);
        openMs += performance.now() - t;
        if (e) throw e;
        read = Buffer.allocUnsafe(readBytes);
        filled = 0;
      }
    }
  }
  const e = dec.push(read.subarray(0, filled), sink);
  if (e) throw e;
  if (got !== frames * batchBytes) throw new Error('lost bytes');
  const totalUs = ((performance.now() - started) * 1000) / frames;
  return { sealUs: (sealMs * 1000) / frames, openUs: (openMs * 1000) / frames, totalUs };
}

for (let i = 0; i < 4; i++) {
  const r = run();
  console.log(`batch ${batchBytes} read ${readBytes}: encode ${r.sealUs.toFixed(1)} µs/frame, push ${r.openUs.toFixed(1)} µs/frame, loop total ${r.totalUs.toFixed(1)} µs/frame`);
}
