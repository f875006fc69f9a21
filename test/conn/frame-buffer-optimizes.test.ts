import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');

/**
 * Seals 200,000 small frames on Node in a child that loads the source through tsx, whose esbuild
 * transform keeps names (`keepNames`, as many bundlers do): that redefines a named class's `name`.
 * A named FrameBuffer class then left its constructor in dictionary mode, and V8 aborted every
 * optimization of the functions that construct it ("Bailed out due to dependency change"), forever:
 * the seal path ran unoptimized and the compiler threads kept busy (platforms/node/buffer-frames.ts).
 */
const probe = `
const { nodeChaCha20Poly1305 } = await import(${JSON.stringify(`${root}/platforms/node/index.js`)});
const { FrameEncoder } = await import(${JSON.stringify(`${root}/src/conn/secure-link-frame.js`)});
const encoder = new FrameEncoder(nodeChaCha20Poly1305(new Uint8Array(32)), 65536);
const plaintext = new Uint8Array(64);
let bytes = 0;
for (let i = 0; i < 200_000; i++) bytes += encoder.encode(plaintext).length;
console.log('sealed bytes', bytes);
`;

describe('small frames on Node under a build that keeps names', () => {
  it('the seal path gets optimized, and no optimization of it is aborted', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '--trace-opt', '--input-type=module', '-e', probe], {
      cwd: root,
      maxBuffer: 64 * 1024 * 1024,
      timeout: 60_000,
    });
    expect(stdout).toContain(`sealed bytes ${200_000 * (64 + 20)}`);
    const lines = stdout.split('\n');
    const aborted = lines.filter((line) => line.includes('aborted optimizing'));
    expect(aborted).toEqual([]);
    // TurboFan may inline sealSmall into encode (then only encode completes), as it chooses under load.
    const completed = ['encode', 'sealSmall'].filter((name) => lines.some((line) => line.includes('completed optimizing') && line.includes(`<JSFunction ${name} `)));
    expect(completed.length, 'encode or sealSmall optimized').toBeGreaterThan(0);
  }, 90_000);
});
