/**
 * `npm run testnet -- <manifest.json> [--json] [--out report.json] [--events events.jsonl]` (root, Linux): builds the lab a
 * manifest describes (each node a `meshlink node` process in its own network namespace, NAT routers,
 * shaped links, coturn), waits for the mesh, lets the nodes gossip through the perturbations, and
 * prints a report. The lab is torn down on exit, on failure and on SIGINT/SIGTERM.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { FileStorage, loadOrCreateNodeKey } from '../platforms/node/index.js';
import { startCoturn, type Coturn } from './lab/coturn.js';
import { LabNetwork, labSupport, type LabHost } from './lab/network.js';
import { expandNodes, loadManifest, schedule, ManifestError, type Manifest, type NodeSpec, type ScheduledAction } from './manifest.js';
import { buildReport, formatReport, type ExecutedAction, type NodeFacts } from './metrics.js';
import { TestnetNode, type NodeEvent } from './node-process.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** The CLI, bundled once per run: 30 processes compiling TypeScript at once would take minutes here. */
const BUNDLE = path.join(ROOT, 'testnet/.build/meshlink-cli.mjs');
const P2P_PORT = 26656;
const NETWORK = 'testnet';
const DEFAULT_GOSSIP_INTERVAL_MS = 2000;
const DEFAULT_OUTBOUND_TARGET = 2;
const DEFAULT_MESH_TIMEOUT_S = 180;
const DEFAULT_DRAIN_S = 10;
const SAMPLE_INTERVAL_MS = 2000;
/** Hosts set up at once: each is a handful of `ip`/`nft` commands. */
const SETUP_CONCURRENCY = 6;

function log(text: string): void {
  process.stderr.write(`[testnet ${new Date().toISOString().slice(11, 19)}] ${text}\n`);
}

async function bundleCli(): Promise<void> {
  mkdirSync(path.dirname(BUNDLE), { recursive: true });
  await build({ entryPoints: [path.join(ROOT, 'demo/cli.ts')], bundle: true, platform: 'node', format: 'esm', target: 'node20', outfile: BUNDLE, packages: 'external', logLevel: 'error' });
}

async function inBatches<T, R>(items: readonly T[], size: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) out.push(...(await Promise.all(items.slice(i, i + size).map(work))));
  return out;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

function nodeArgs(spec: NodeSpec, manifest: Manifest, home: string, relays: string[], index: number, coturn: Coturn | undefined): string[] {
  const args = ['node', '--listen', `tcp://0.0.0.0:${P2P_PORT}`, '--network', NETWORK, '--home', home, '--moniker', spec.name, '--log-level', 'debug'];
  args.push('--gossip-interval', String(manifest.gossipIntervalMs ?? DEFAULT_GOSSIP_INTERVAL_MS));
  if (manifest.maxOutbound !== undefined) args.push('--max-outbound', String(manifest.maxOutbound));
  if (spec.kind === 'relay') {
    // Relays keep each other connected: the backbone the NAT'd nodes reach everyone through.
    for (const address of relays.slice(0, index)) args.push('--persistent', address);
  } else {
    if (relays.length > 0) args.push('--persistent', relays[index % relays.length]!, '--seeds', relays.join(','));
  }
  if (spec.kind === 'webrtc') {
    args.push('--webrtc');
    if (coturn !== undefined) args.push('--ice-server', String(coturn.stun.urls), '--ice-server', `${String(coturn.turn.urls)},${coturn.username},${coturn.credential}`);
  }
  return args;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ options: { json: { type: 'boolean' }, out: { type: 'string' }, events: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, allowPositionals: true });
  if (values.help === true || positionals.length !== 1) {
    process.stdout.write('usage: npm run testnet -- <manifest.json> [--json] [--out report.json] [--events events.jsonl]   (root, Linux)\n');
    process.exitCode = values.help === true ? 0 : 2;
    return;
  }
  const manifestFile = positionals[0]!;
  const manifest = loadManifest(manifestFile);
  const support = labSupport();
  if (!support.ok) throw new Error(`cannot build the lab here: ${support.why}`);

  const specs = expandNodes(manifest);
  const actionsPlanned = schedule(manifest, specs);
  const homes = mkdtempSync(path.join(tmpdir(), 'meshlink-testnet-'));
  let lab: LabNetwork | undefined;
  let coturn: Coturn | undefined;
  const nodes = new Map<string, TestnetNode>();
  let tornDown = false;
  const teardown = (): void => {
    if (tornDown) return;
    tornDown = true;
    coturn?.stop();
    lab?.destroy();
    rmSync(homes, { recursive: true, force: true });
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    log(`${signal}: tearing the lab down`);
    teardown();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', teardown);

  try {
    log(`bundling the CLI`);
    await bundleCli();
    lab = await LabNetwork.create('tn');
    log(`lab ${lab.prefix}: ${specs.length} nodes`);
    const needsTurn = specs.some((spec) => spec.kind === 'webrtc');
    const turnHost = needsTurn ? await lab.addHost('turn') : undefined;
    const hosts = await inBatches(specs, SETUP_CONCURRENCY, (spec) =>
      // Every access link goes through the emulator (unshaped ones too), so any can be cut or made lossy.
      lab!.addHost(spec.name, { ...(spec.kind !== 'relay' && spec.nat !== undefined ? { nat: spec.nat } : {}), shape: spec.link ?? {} }),
    );
    if (turnHost !== undefined) coturn = await startCoturn(turnHost);
    const hostOf = new Map<string, LabHost>(specs.map((spec, i) => [spec.name, hosts[i]!]));
    const ids = await inBatches(specs, SETUP_CONCURRENCY, async (spec) => {
      const home = path.join(homes, spec.name);
      return (await loadOrCreateNodeKey(new FileStorage(home))).nodeId;
    });
    const idOf = new Map(specs.map((spec, i) => [spec.name, ids[i]!]));
    const relays = specs.filter((spec) => spec.kind === 'relay').map((spec) => `tcp://${idOf.get(spec.name)!}@${hostOf.get(spec.name)!.ip}:${P2P_PORT}`);
    const events: NodeEvent[] = [];
    let relayIndex = 0;
    let nodeIndex = 0;
    for (const spec of specs) {
      const index = spec.kind === 'relay' ? relayIndex++ : nodeIndex++;
      const args = nodeArgs(spec, manifest, path.join(homes, spec.name), relays, index, coturn);
      nodes.set(spec.name, new TestnetNode(spec, hostOf.get(spec.name)!, idOf.get(spec.name)!, { bundle: BUNDLE, args }, events));
    }
    const target = manifest.outboundTarget ?? DEFAULT_OUTBOUND_TARGET;
    const facts: NodeFacts[] = specs.map((spec) => ({ name: spec.name, nodeId: idOf.get(spec.name)!, kind: spec.kind, nat: spec.nat, target: spec.kind === 'relay' ? 1 : target }));

    const launchedAt = Date.now();
    for (const node of nodes.values()) node.start();
    log(`started ${nodes.size} nodes; waiting for the mesh (every node at ${target} peers, relays at 1)`);

    const maxRssKb = new Map<string, number>();
    const sample = (): void => {
      for (const [name, node] of nodes) {
        const kb = node.rssKb();
        if (kb !== undefined && kb > (maxRssKb.get(name) ?? 0)) maxRssKb.set(name, kb);
      }
    };
    const sampler = setInterval(sample, SAMPLE_INTERVAL_MS);
    const peerCounts = (): Map<string, number> => {
      const peers = new Map<string, Set<string>>();
      for (const event of events) {
        let set = peers.get(event.node);
        if (set === undefined) peers.set(event.node, (set = new Set()));
        if (event.kind === 'connected') set.add(event.peer);
        else if (event.kind === 'disconnected') set.delete(event.peer);
        else if (event.kind === 'exited' || event.kind === 'started') set.clear();
      }
      return new Map([...peers].map(([name, set]) => [name, set.size]));
    };
    const meshDeadline = launchedAt + (manifest.meshTimeoutS ?? DEFAULT_MESH_TIMEOUT_S) * 1000;
    let meshAt: number | undefined;
    while (Date.now() < meshDeadline) {
      const counts = peerCounts();
      if (facts.every((node) => (counts.get(node.name) ?? 0) >= node.target)) {
        meshAt = Date.now();
        break;
      }
      const down = [...nodes.values()].filter((node) => node.state === 'down');
      if (down.length > 0) throw new Error(`node ${down[0]!.spec.name} exited during start-up: ${down[0]!.stderrTail}`);
      await sleep(250);
    }
    log(meshAt === undefined ? 'the mesh did not form in time; going on to measure anyway' : `mesh formed after ${meshAt - launchedAt} ms`);

    const windowStart = Date.now();
    const windowEnd = windowStart + manifest.durationS * 1000;
    const executed: ExecutedAction[] = [];
    for (const action of actionsPlanned) {
      await sleep(windowStart + action.atS * 1000 - Date.now());
      await perform(action, nodes, lab, executed);
    }
    await sleep(windowEnd - Date.now());
    log(`gossip window over; draining ${manifest.drainS ?? DEFAULT_DRAIN_S} s`);
    await sleep((manifest.drainS ?? DEFAULT_DRAIN_S) * 1000);
    clearInterval(sampler);
    sample();
    const collectedAt = Date.now();
    const linkStats = await lab.linkStats();
    const report = buildReport({
      manifest: manifest.name,
      nodes: facts,
      events,
      actions: executed,
      launchedAt,
      meshAt,
      windowStart,
      windowEnd,
      collectedAt,
      turnIp: coturn?.host.ip,
      maxRssKb,
      linkStats,
    });
    const json = JSON.stringify(report, null, 2);
    if (values.out !== undefined) writeFileSync(values.out, `${json}\n`);
    // Every recorded event and action, one JSON object per line, for analyses the report does not make.
    if (values.events !== undefined) writeFileSync(values.events, [{ kind: 'window', launchedAt, meshAt, windowStart, windowEnd, collectedAt, turnIp: coturn?.host.ip }, ...facts.map((node) => ({ ...node, nodeKind: node.kind, kind: 'node' })), ...events, ...executed.map((action) => ({ ...action, kind: 'action' }))].map((event) => JSON.stringify(event)).join('\n') + '\n');
    process.stdout.write(values.json === true ? `${json}\n` : `${formatReport(report)}\n`);
  } finally {
    teardown();
  }
}

async function perform(action: ScheduledAction, nodes: Map<string, TestnetNode>, lab: LabNetwork, executed: ExecutedAction[]): Promise<void> {
  log(`${action.op} ${action.nodes.join(', ')}${action.lossPct === undefined ? '' : ` (loss ${action.lossPct} %)`}`);
  await Promise.all(action.nodes.map(async (name) => {
    const node = nodes.get(name)!;
    const t = Date.now();
    switch (action.op) {
      case 'kill':
        await node.kill();
        break;
      case 'restart':
        await node.kill();
        node.start();
        break;
      case 'pause':
        node.pause();
        break;
      case 'resume':
        node.resume();
        break;
      case 'cut':
        await lab.shapeLink(name, { cut: true });
        break;
      case 'heal':
        await lab.shapeLink(name, { cut: false });
        break;
      case 'loss':
        await lab.shapeLink(name, { lossPct: action.lossPct ?? 0 });
        break;
    }
    executed.push({ t, op: action.op, node: name });
  }));
}

main().catch((error: unknown) => {
  process.stderr.write(`testnet: ${error instanceof ManifestError ? error.message : ((error as Error).stack ?? String(error))}\n`);
  process.exitCode = 1;
});
