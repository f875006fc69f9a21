// `npm run build:browser` (also part of `npm run build` and `prepare`): bundles for browsers with esbuild.
//
//   platforms/browser/index.ts → dist/browser/meshlink.js   the SDK: one ES module that carries its
//                                                           dependencies (noble, msgpack, idb-keyval)
//   demo/web/app.ts            → dist/demo-web/app.js       the demo page's script; it imports the SDK
//   demo/web/index.html        → dist/demo-web/index.html   from ../browser/meshlink.js, so the page
//                                                           runs the very bundle we ship
//
// Plain JavaScript so that `prepare` needs no TypeScript loader. The build fails (it does not shim) if
// anything in the browser graph reaches for a Node builtin or a Node-only package.
// `--outdir <dir>` writes <dir>/browser and <dir>/demo-web instead of dist/ (tests use it).
import { build } from 'esbuild';
import { parseArgs } from 'node:util';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const OUT_DIR = resolve(ROOT, parseArgs({ options: { outdir: { type: 'string' } } }).values.outdir ?? 'dist');
const SDK_ENTRY = join(ROOT, 'platforms/browser/index.ts');
const SDK_OUT = join(OUT_DIR, 'browser/meshlink.js');
const DEMO_DIR = join(ROOT, 'demo/web');
const DEMO_OUT_DIR = join(OUT_DIR, 'demo-web');
/** How the demo's script reaches the SDK bundle, relative to dist/demo-web/app.js. */
const SDK_FROM_DEMO = '../browser/meshlink.js';
/** Files of the SDK's public surface; the demo's imports of these become imports of the bundle. */
const SDK_FACADES = new Set([SDK_ENTRY, join(ROOT, 'src/index.ts')]);

const NODE_BUILTINS = new Set([
  'assert', 'buffer', 'child_process', 'crypto', 'dgram', 'dns', 'events', 'fs', 'fs/promises', 'http', 'https',
  'net', 'os', 'path', 'process', 'stream', 'string_decoder', 'tls', 'url', 'util', 'worker_threads', 'zlib',
]);
const NODE_ONLY_PACKAGES = new Set(['ws', 'nat-upnp', 'sodium-native']);

/** Refuses Node builtins, Node-only packages and platforms/node: a browser bundle must not need shims. */
const browserOnly = {
  name: 'meshlink-browser-only',
  setup(b) {
    b.onResolve({ filter: /.*/ }, (args) => {
      const { path } = args;
      const packageName = path.startsWith('@') ? path.split('/').slice(0, 2).join('/') : path.split('/')[0];
      const from = relative(ROOT, args.importer) || args.importer;
      if (path.startsWith('node:') || NODE_BUILTINS.has(path)) {
        return { errors: [{ text: `${from} imports the Node builtin "${path}"; the browser build must not depend on Node` }] };
      }
      if (NODE_ONLY_PACKAGES.has(packageName)) {
        return { errors: [{ text: `${from} imports "${path}", a Node-only package` }] };
      }
      if (path.startsWith('.') && resolve(args.resolveDir, path).startsWith(join(ROOT, 'platforms/node') + sep)) {
        return { errors: [{ text: `${from} imports ${path} from platforms/node` }] };
      }
      return undefined;
    });
  },
};

/**
 * For the demo page: the SDK comes from the shipped bundle (external), never compiled in a second time;
 * a deep import of an SDK file would duplicate classes (and break `instanceof`), so it is an error.
 */
const sdkFromBundle = {
  name: 'meshlink-sdk-from-bundle',
  setup(b) {
    b.onResolve({ filter: /^\.\.?\// }, (args) => {
      const target = resolve(args.resolveDir, args.path.replace(/\.js$/, '.ts'));
      if (SDK_FACADES.has(target)) return { path: SDK_FROM_DEMO, external: true };
      const inside = (dir) => target.startsWith(join(ROOT, dir) + sep);
      if (inside('src') || inside('platforms')) {
        return {
          errors: [{ text: `${relative(ROOT, args.importer)} imports ${args.path}; import the SDK through src/index.js or platforms/browser/index.js` }],
        };
      }
      return undefined;
    });
  },
};

const common = {
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  // No maps: the package ships no TypeScript sources for them to point at, and they tripled its size.
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning',
  absWorkingDir: ROOT,
};

async function main() {
  const started = performance.now();
  await build({ ...common, entryPoints: [SDK_ENTRY], outfile: SDK_OUT, plugins: [browserOnly] });
  await build({ ...common, entryPoints: [join(DEMO_DIR, 'app.ts')], outfile: join(DEMO_OUT_DIR, 'app.js'), plugins: [browserOnly, sdkFromBundle] });
  await mkdir(DEMO_OUT_DIR, { recursive: true });
  await copyFile(join(DEMO_DIR, 'index.html'), join(DEMO_OUT_DIR, 'index.html'));

  const sizes = [];
  for (const file of [SDK_OUT, join(DEMO_OUT_DIR, 'app.js')]) {
    const bytes = await readFile(file);
    sizes.push(`${relative(ROOT, file)} ${kb(bytes.length)} (${kb(gzipSync(bytes, { level: 9 }).length)} gzip)`);
  }
  console.log(`build:browser ${sizes.join(', ')} in ${Math.round(performance.now() - started)} ms`);
}

function kb(bytes) {
  return `${(bytes / 1000).toFixed(1)} kB`;
}

main().catch((error) => {
  // esbuild has already printed its diagnostics.
  if (!Array.isArray(error?.errors)) console.error(error);
  process.exitCode = 1;
});
