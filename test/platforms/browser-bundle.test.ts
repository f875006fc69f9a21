import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// `npm run build:browser` (platforms/browser/build.mjs) into a scratch folder. The build itself refuses
// Node builtins and Node-only packages anywhere in the browser graph; these checks pin the result.
const ROOT = join(import.meta.dirname, '..', '..');
let out = '';
let log = '';

beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), 'meshlink-bundle-test-'));
  const { stdout } = await promisify(execFile)(process.execPath, ['platforms/browser/build.mjs', '--outdir', out], { cwd: ROOT, timeout: 20_000 });
  log = stdout;
}, 30_000);

afterAll(async () => {
  await rm(out, { recursive: true, force: true });
});

describe('the browser build', () => {
  it('bundles the SDK into one self-contained ES module and reports its size', async () => {
    expect(log).toMatch(/browser\/meshlink\.js \d+\.\d kB \(\d+\.\d kB gzip\)/);
    const bundle = await readFile(join(out, 'browser', 'meshlink.js'), 'utf8');
    // Minified module syntax: `import{…}from"x"`, `import"x"`, `import("x")`; plain words inside strings do not count.
    expect(bundle).not.toMatch(/\}\s*from\s*"|\bimport\s*[{*"(]|require\(|"node:/);
    expect(bundle).not.toContain('sourceMappingURL'); // no maps: the package ships no sources for them
    const sdk = (await import(pathToFileURL(join(out, 'browser', 'meshlink.js')).href)) as Record<string, unknown>;
    for (const name of ['createNode', 'IndexedDbStorage', 'WebSocketClientTransport', 'Switch', 'BaseAgent', 'MeshlinkError']) {
      expect(typeof sdk[name]).toBe('function');
    }
  });

  it('builds the demo page, whose script takes the SDK from the bundle instead of compiling it in again', async () => {
    const app = await readFile(join(out, 'demo-web', 'app.js'), 'utf8');
    const imports = [...app.matchAll(/\bimport\s*(?:\{[^}]*\}\s*from\s*)?"([^"]+)"/g)].map((match) => match[1]);
    expect(new Set(imports)).toEqual(new Set(['../browser/meshlink.js']));
    expect(app).not.toMatch(/\bimport\s*[*(]|require\(|"node:/);
    // No second Switch in the page: the class lives in the bundle only. The SDK is ~385 kB; the demo's own
    // code (its agents, now with their paced forwarding, and the page) ~40 kB.
    expect(app.length).toBeLessThan(64_000);
    expect(await readFile(join(out, 'demo-web', 'index.html'), 'utf8')).toContain('src="./app.js"');
  });
});
