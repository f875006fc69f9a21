import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { installApp, REPO, spawnLines } from './helpers/packed.js';
import { readmeSnippets, snippetNamed, type Snippet } from './helpers/readme-snippets.js';

// Issue #13, "Docs": every code block of the README that npm ships is type-checked against the installed
// package (browser blocks against `meshlink/browser`, with no @types/node) and run as written: the Node ones
// here, the browser ones in Chromium (browser-page.test.ts, browser-mesh.test.ts); `agent-interface`, a
// declaration, is checked against the real type instead.
const run = promisify(execFile);
const TSC = join(REPO, 'node_modules/typescript/bin/tsc');
const SETUP_TIMEOUT_MS = 300_000;
const RUN_TIMEOUT_MS = 30_000;

/** The README snippets the package tests run (here, or bundled into a page in browser-page/browser-mesh.test.ts). */
const RUN_BY_TESTS = ['quick-start', 'mempool-agent', 'dial-unknown-id', 'ice-servers', 'browser-page', 'browser-mesh'];

/** Appended to a snippet before checking it: the README's copy of a type must match the real one. */
const CHECK_SUFFIX: Record<string, string> = {
  'agent-interface': `
import type { Agent as RealAgent } from 'meshlink';
export const toReal = (agent: Agent): RealAgent => agent;
export const fromReal = (agent: RealAgent): Agent => agent;
`,
};

/** Browser code that must NOT type-check: Node-only parts are not in the browser typings. */
const BROWSER_MUST_FAIL: Record<string, { code: string; error: RegExp }> = {
  'node-only-export': { code: `import { tcpTransport } from 'meshlink/browser';\nexport const transport = tcpTransport();\n`, error: /TS2305|TS2724/ },
  'node-only-option': { code: `import { createNode } from 'meshlink/browser';\nexport const node = await createNode({ home: './.meshlink' });\n`, error: /TS2353/ },
};

/** Browser code that must type-check: the self-contained bundle has the browser typings. */
const BROWSER_MUST_PASS: Record<string, string> = {
  'bundle-entry': `import { createNode, IndexedDbStorage, type Switch } from 'meshlink/bundle';\nexport const node: Switch = await createNode({ storage: new IndexedDbStorage('app') });\n`,
};

/** The drivers' one wait: polls `condition`, bounded. */
const UNTIL_SOURCE = `
async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for ' + what);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
`;

/** Runs the README's MempoolAgent from the installed package on three nodes over TCP. */
const MEMPOOL_DRIVER = `
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNode, encodeMessage, type Switch } from 'meshlink';
import { MempoolAgent } from '../readme/mempool-agent.js';
${UNTIL_SOURCE}
const agents = [new MempoolAgent(), new MempoolAgent(), new MempoolAgent()];
const nodes: Switch[] = [];
for (const agent of agents) {
  const node = await createNode({ home: await mkdtemp(join(tmpdir(), 'meshlink-readme-')), network: 'readme', listen: ['tcp://127.0.0.1:0'] });
  node.addAgent('mempool', agent);
  await node.start();
  nodes.push(node);
}
const [first, hub, last] = nodes as [Switch, Switch, Switch];
await first.dial(hub.addresses[0]!);
const toHub = await last.dial(hub.addresses[0]!);
await until(() => hub.peers.length === 2, 'the line of three');
toHub.trySend(0x30, encodeMessage({ tx: new Uint8Array([7]) })); // the last node's switch sends; its agent never sees the tx
await until(() => agents[0]!.seen.size === 1 && agents[1]!.seen.size === 1, 'gossip to the hub and the first node');
await new Promise((resolve) => setTimeout(resolve, 300));
const echoed = agents[2]!.seen.size;
toHub.trySend(0x30, encodeMessage({ tx: 'garbage' }));
await until(() => hub.peers.length === 1, 'the garbage sender dropped');
console.log(JSON.stringify({ echoed, remaining: hub.peers[0]!.id === first.nodeId }));
await Promise.all(nodes.map((node) => node.stop()));
`;

/**
 * Appended to the README's ice-servers snippet (which only makes a node): starts that node, has a second
 * node reach it over WebRTC through a relay, and stops all three. The snippet's own onRoute prints the route.
 */
const ICE_SERVERS_DRIVER = `
// ---- appended by test/package/readme.test.ts; the README's ice-servers snippet ends above ----
import { MemoryStorage } from 'meshlink';
${UNTIL_SOURCE}
const relay = await createNode({ storage: new MemoryStorage(), listen: ['tcp://127.0.0.1:0'], relay: true });
await relay.start();
await node.start();
await node.dial(relay.addresses[0]!); // a node takes relayed offers only through peers it dialled
const other = await createNode({ storage: new MemoryStorage(), webrtc: true });
await other.start();
await other.dial(relay.addresses[0]!);
const link = await other.dial(\`webrtc://\${node.nodeId}?via=\${relay.nodeId}\`);
await until(() => node.getPeer(other.nodeId)?.transport === 'webrtc', "the snippet's node to take the WebRTC link");
console.log(JSON.stringify({ other: other.nodeId, transport: link.transport }));
await Promise.all([other.stop(), node.stop(), relay.stop()]);
console.log('stopped');
`;

/** Option interfaces (in the installed typings) whose every member the README must name. */
const DOCUMENTED_OPTIONS: Record<string, string[]> = {
  'dist/src/switch/config.d.ts': ['SwitchOptions'],
  'dist/src/node-options.d.ts': ['CommonNodeOptions', 'NodeWebRtcOptions'],
  'dist/platforms/node/index.d.ts': ['NodeOptions', 'NodeNatOptions'],
  'dist/platforms/node/webrtc.d.ts': ['NodeWebRtcTransportOptions'],
  'dist/platforms/browser/index.d.ts': ['BrowserNodeOptions'],
  'dist/src/webrtc/webrtc-transport.d.ts': ['WebRtcTransportOptions'],
  'dist/src/conn/config.d.ts': ['MConnectionConfig'],
  'dist/src/conn/channel-descriptor.d.ts': ['ChannelDescriptor'],
  'dist/src/pex/config.d.ts': ['PexConfig', 'AddressBookConfig'],
  'dist/src/pex/pex-agent-options.d.ts': ['PexAgentOptions'],
  'dist/src/pex/address-book-options.d.ts': ['AddressBookOptions'],
  'dist/src/nat/nat-manager-config.d.ts': ['NatManagerOptions'],
  'dist/platforms/node/upnp/upnp-port-mapper-config.d.ts': ['UpnpPortMapperOptions'],
  'dist/platforms/node/nat-pmp/nat-pmp-port-mapper-config.d.ts': ['NatPmpPortMapperOptions'],
};
/** Members of those interfaces that are internal seams, set by createNode, not by users. */
const UNDOCUMENTED_OPTIONS = new Set(['createPeer', 'mapper', 'nodeId', 'ports']);

/** The members an `interface Name … { … }` declares in a .d.ts (its own, not inherited ones). */
function interfaceMembers(declarations: string, name: string): string[] {
  const body = new RegExp(`(?:interface|type) ${name}\\b[^{;]*\\{([\\s\\S]*?)\\n\\}`).exec(declarations)?.[1];
  if (body === undefined) throw new Error(`no interface ${name}`);
  return [...body.replace(/\/\*\*[\s\S]*?\*\//g, '').matchAll(/^ {4}(?:readonly )?(\w+)\??:/gm)].map((match) => match[1]!);
}

let nodeApp = '';
let browserApp = '';
/** The app "with WebRTC + libsodium" (install.test.ts installs it too): where the ice-servers snippet runs. */
let webrtcApp = '';
let snippets: Snippet[] = [];
/** tsc's errors by file (relative to the app), per app. */
const errors = { node: new Map<string, string[]>(), browser: new Map<string, string[]>() };

beforeAll(async () => {
  [nodeApp, browserApp, webrtcApp] = await Promise.all([installApp('node'), installApp('browser'), installApp('node-webrtc-sodium')]);
  // The README as npm ships it, not the checkout's copy.
  snippets = readmeSnippets(await readFile(join(nodeApp, 'node_modules/meshlink/README.md'), 'utf8'));
  await Promise.all([prepareNodeChecks(), prepareBrowserChecks()]);
  const [node, browser] = await Promise.all([typeCheck(nodeApp, 'tsconfig.readme.json'), typeCheck(browserApp, 'tsconfig.readme.json')]);
  errors.node = node;
  errors.browser = browser;
}, SETUP_TIMEOUT_MS);

async function writeChecks(app: string, files: Record<string, string>): Promise<void> {
  for (const dir of ['readme', 'checks', 'readme-out']) await rm(join(app, dir), { recursive: true, force: true });
  await mkdir(join(app, 'readme'));
  await mkdir(join(app, 'checks'));
  for (const [file, code] of Object.entries(files)) await writeFile(join(app, file), code);
}

async function prepareNodeChecks(): Promise<void> {
  const files: Record<string, string> = {
    'checks/mempool-driver.ts': MEMPOOL_DRIVER,
    'checks/ice-servers-linked.ts': snippetNamed(snippets, 'ice-servers').code + ICE_SERVERS_DRIVER,
  };
  for (const snippet of snippets.filter((candidate) => candidate.platform === 'node')) {
    files[`readme/${snippet.name}.ts`] = snippet.code + (CHECK_SUFFIX[snippet.name] ?? '');
  }
  // A Node project as the README tells users to set one up: @types/node (here from this checkout).
  files['tsconfig.readme.json'] = JSON.stringify({
    compilerOptions: {
      target: 'ES2022',
      lib: ['ES2022'],
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      strict: true,
      skipLibCheck: false,
      typeRoots: [join(REPO, 'node_modules/@types')],
      types: ['node'],
      outDir: 'readme-out',
      rootDir: '.',
    },
    include: ['readme/*.ts', 'checks/*.ts'],
  });
  await writeChecks(nodeApp, files);
}

async function prepareBrowserChecks(): Promise<void> {
  const files: Record<string, string> = {};
  for (const snippet of snippets.filter((candidate) => candidate.platform === 'browser')) files[`readme/${snippet.name}.ts`] = snippet.code;
  for (const [name, { code }] of Object.entries(BROWSER_MUST_FAIL)) files[`checks/${name}.ts`] = code;
  for (const [name, code] of Object.entries(BROWSER_MUST_PASS)) files[`checks/${name}.ts`] = code;
  // A browser project: DOM typings, a bundler's resolution, and no Node typings at all.
  files['tsconfig.readme.json'] = JSON.stringify({
    compilerOptions: {
      target: 'ES2022',
      lib: ['ES2022', 'DOM'],
      module: 'ESNext',
      moduleResolution: 'Bundler',
      strict: true,
      skipLibCheck: false,
      types: [],
      noEmit: true,
    },
    include: ['readme/*.ts', 'checks/*.ts'],
  });
  await writeChecks(browserApp, files);
}

/** Runs tsc on the project (emitting where it says so) and groups its errors by file. */
async function typeCheck(app: string, project: string): Promise<Map<string, string[]>> {
  const output = await run(process.execPath, [TSC, '-p', project, '--pretty', 'false'], { cwd: app, timeout: 120_000 }).then(
    ({ stdout }) => stdout,
    (error: { stdout?: string }) => error.stdout ?? String(error),
  );
  const byFile = new Map<string, string[]>();
  for (const line of output.split('\n')) {
    const match = /^(.+?)\(\d+,\d+\): error (TS\d+)/.exec(line);
    if (match === null) continue;
    byFile.set(match[1]!, [...(byFile.get(match[1]!) ?? []), line]);
  }
  if (output.trim() !== '' && byFile.size === 0) byFile.set('(tsc)', [output]);
  return byFile;
}

function errorsUnder(map: Map<string, string[]>, prefix: string): string[] {
  return [...map].filter(([file]) => file.startsWith(prefix) || file === '(tsc)').flatMap(([, lines]) => lines);
}

describe("the README's code against the installed package", () => {
  it('marks every code block, and each is run by a test or is a declaration checked against the real type', () => {
    const unaccounted = snippets.map((snippet) => snippet.name).filter((name) => !RUN_BY_TESTS.includes(name) && !(name in CHECK_SUFFIX));
    expect(unaccounted, 'README snippets no test runs: run them here (or in a browser test) and list them in RUN_BY_TESTS').toEqual([]);
    for (const name of RUN_BY_TESTS) expect(() => snippetNamed(snippets, name)).not.toThrow();
  });

  it('type-checks every Node snippet against `meshlink` with @types/node', () => {
    expect(errorsUnder(errors.node, 'readme/')).toEqual([]);
    expect(errorsUnder(errors.node, 'checks/')).toEqual([]);
  });

  it('type-checks every browser snippet against `meshlink/browser` (and `meshlink/bundle`) without @types/node', () => {
    expect(errorsUnder(errors.browser, 'readme/')).toEqual([]);
    for (const name of Object.keys(BROWSER_MUST_PASS)) expect(errorsUnder(errors.browser, `checks/${name}.ts`)).toEqual([]);
  });

  it('refuses Node-only parts in browser code at type-check time', () => {
    for (const [name, { error }] of Object.entries(BROWSER_MUST_FAIL)) {
      expect(errorsUnder(errors.browser, `checks/${name}.ts`).join('\n'), name).toMatch(error);
    }
  });

  it('documents every value the entry points export and every option', async () => {
    const readme = await readFile(join(nodeApp, 'node_modules/meshlink/README.md'), 'utf8');
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', `
      const node = await import('meshlink');
      const browser = await import('meshlink/browser');
      console.log(JSON.stringify([...new Set([...Object.keys(node), ...Object.keys(browser)])]));
    `], { cwd: nodeApp, timeout: RUN_TIMEOUT_MS });
    const exported = JSON.parse(stdout) as string[];
    expect(exported.length).toBeGreaterThan(50);
    expect(exported.filter((name) => !readme.includes(`\`${name}`))).toEqual([]);
    const options: string[] = [];
    for (const [file, names] of Object.entries(DOCUMENTED_OPTIONS)) {
      const declarations = await readFile(join(nodeApp, 'node_modules/meshlink', file), 'utf8');
      for (const name of names) options.push(...interfaceMembers(declarations, name).map((member) => `${name}.${member}`));
    }
    expect(options.length).toBeGreaterThan(60);
    expect(options.filter((option) => !UNDOCUMENTED_OPTIONS.has(option.split('.')[1]!) && !readme.includes(`\`${option.split('.')[1]}`))).toEqual([]);
  });

  it('runs the quick start twice in one folder: the second copy dials the first and says hello', async () => {
    const script = join(nodeApp, 'readme-out/readme/quick-start.js');
    const first = spawnLines(process.execPath, [script], { cwd: nodeApp });
    try {
      const listening = await first.waitLine((line) => line.startsWith('listening on '), RUN_TIMEOUT_MS);
      const address = listening.slice('listening on '.length);
      expect(address).toMatch(/^tcp:\/\/[0-9a-f]{40}@127\.0\.0\.1:\d+$/);
      const second = spawnLines(process.execPath, [script, address], { cwd: nodeApp });
      try {
        await second.waitLine((line) => line.startsWith('connected to '), RUN_TIMEOUT_MS);
        expect(await second.waitExit(RUN_TIMEOUT_MS)).toBe(0); // it stops its node and exits by itself
      } finally {
        await second.stop();
      }
      await first.waitLine((line) => line.endsWith(': hello'), RUN_TIMEOUT_MS);
      await first.waitLine((line) => line.startsWith('disconnected from '), RUN_TIMEOUT_MS);
    } finally {
      expect(await first.stop()).toBe(0); // SIGINT: the node stops and the process exits by itself
    }
  }, 90_000);

  it("runs the README's MempoolAgent from the package on three nodes over TCP", async () => {
    const { stdout } = await run(process.execPath, [join(nodeApp, 'readme-out/checks/mempool-driver.js')], { cwd: nodeApp, timeout: 60_000 });
    expect(JSON.parse(stdout.trim().split('\n').at(-1)!)).toEqual({ echoed: 0, remaining: true });
  }, 90_000);

  it("runs the README's dial without a node id: refused without the opt-in, then reaches the server with it", async () => {
    const { stdout } = await run(process.execPath, [join(nodeApp, 'readme-out/readme/dial-unknown-id.js')], { cwd: nodeApp, timeout: 60_000 });
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toBe('ERR_NO_PEER_ID');
    expect(lines[1]).toMatch(/^reached [0-9a-f]{40}$/);
  }, 90_000);

  it("runs the README's ice-servers snippet as written in an app with @roamhq/wrtc: it makes the node, keeps its key in ~/.meshlink, exits", async () => {
    // As written, the snippet only creates the node (nothing starts, so nothing dials the example servers).
    const home = await mkdtemp(join(tmpdir(), 'meshlink-readme-home-'));
    try {
      await runInWebRtcApp('readme/ice-servers.js', home);
      const key = await stat(join(home, '.meshlink/node-key'));
      expect(key.size).toBe(32);
      expect(key.mode & 0o777).toBe(0o600);
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  }, 90_000);

  it("runs the ice-servers snippet with a start, a WebRTC peer and a stop appended: the node links, the snippet's onRoute prints the route, all stop", async () => {
    const home = await mkdtemp(join(tmpdir(), 'meshlink-readme-home-'));
    try {
      const lines = (await runInWebRtcApp('checks/ice-servers-linked.js', home)).trim().split('\n');
      expect(lines.at(-1)).toBe('stopped'); // and the process exited by itself: nothing of WebRTC kept it alive
      const { other, transport } = JSON.parse(lines.at(-2)!) as { other: string; transport: string };
      expect(transport).toBe('webrtc');
      // The snippet's `console.log(peerId, localAddress, remoteAddress)`: the selected candidate pair's two ends.
      const ip = String.raw`(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9a-f:]+)`;
      expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^${other} ${ip} ${ip}$`)));
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  }, 90_000);
});

/**
 * Runs a compiled README file (relative to the node app's tsc output) from a folder of the WebRTC app, so
 * that `meshlink` and `@roamhq/wrtc` resolve there; HOME is `home`, so `~/.meshlink` is a temp folder.
 * Returns stdout; rejects if the process fails or outlives the timeout.
 */
async function runInWebRtcApp(compiled: string, home: string): Promise<string> {
  const dir = join(webrtcApp, `readme-run-${process.pid}`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir);
  try {
    const script = join(dir, 'main.js');
    await copyFile(join(nodeApp, 'readme-out', compiled), script);
    const { stdout } = await run(process.execPath, [script], { cwd: dir, timeout: 60_000, env: { ...process.env, HOME: home } });
    return stdout;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
