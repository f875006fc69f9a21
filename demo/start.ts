import { parseArgs } from 'node:util';
import { DEFAULT_NETWORK } from '../platforms/node/index.js';
import { txHash, type TxListener } from './agents/mempool.js';
import type { Logger } from './log.js';
import { parseHostPort } from './cli-args.js';
import { runNode, type HostPort, type NodeConfig, type RunningNode } from './node-runner.js';

/**
 * `npm start`: the demo, started exactly as `meshlink node` starts a node (node-runner.ts): a relay that
 * also accepts WebSocket peers and serves the browser demo page, and two nodes that keep a persistent
 * connection to it. Each originates a transaction; the MempoolAgent gossips them through the relay, and
 * every step is printed as a sentence. Then it prints the page's URL: each browser that opens it
 * joins the same mesh. Runs until Ctrl-C, or exits with `--once`.
 */

/** Bound on each wait of the demo, so a broken build fails loudly instead of hanging. */
const STEP_TIMEOUT_MS = 10 * 1000;
const NAME_WIDTH = 6;

const DEFAULT_WS = '127.0.0.1:26657';
const DEFAULT_WEB = '127.0.0.1:8080';

const USAGE = `Usage: npm start [-- [--once] [--ws host:port] [--web host:port]]
  Starts a relay and two nodes on 127.0.0.1, gossips a few transactions and prints what happens;
  the relay also serves the browser demo page.
  --once             exit after the exchange instead of running until Ctrl-C
  --ws <host:port>   the relay's WebSocket listener, which browsers dial (default ${DEFAULT_WS}; port 0: a free port)
  --web <host:port>  where the relay serves the demo page (default ${DEFAULT_WEB}; port 0: a free port)`;

const names = new Map<string, string>();

function say(who: string, text: string): void {
  console.log(`${who.padEnd(NAME_WIDTH)} ${text}`);
}

function nameOf(nodeId: unknown): string {
  const id = String(nodeId);
  return names.get(id) ?? `${id.slice(0, 8)}…`;
}

/** The human renderer of the node-runner's log events (the CLI renders the same events as JSON). */
function sentences(who: string): Logger {
  return (level, event, fields = {}) => {
    const why = (fields['error'] ?? fields['reason']) as { code?: string; message?: string } | undefined;
    const because = why === undefined ? '' : ` (${why.code ?? why.message ?? 'unknown'})`;
    switch (event) {
      case 'peer:connected':
        return say(who, `connected to ${nameOf(fields['peer'])} (${String(fields['direction'])})`);
      case 'peer:disconnected':
        return say(who, `disconnected from ${nameOf(fields['peer'])}${because}`);
      case 'dial:failed':
        return say(who, `could not reach ${String(fields['address'])}${because}${fields['willRetry'] === true ? ', will retry' : ''}`);
      case 'tx':
        return; // printed by printTx, which sees the tx bytes
      default:
        if (level === 'warn' || level === 'error') say(who, `${event}${because}`);
    }
  };
}

function printTx(who: string): TxListener {
  return (tx, { hash, from }) => {
    const text = JSON.stringify(new TextDecoder().decode(tx));
    if (from === undefined) say(who, `→ new tx ${text} (${hash.slice(0, 8)}), gossiping it`);
    else say(who, `← tx ${text} (${hash.slice(0, 8)}) from ${nameOf(from.id)}`);
  };
}

function demoConfig(moniker: string, overrides: Partial<NodeConfig> = {}): NodeConfig {
  return {
    listen: ['tcp://127.0.0.1:0'],
    ws: undefined,
    persistent: [],
    seeds: [],
    home: undefined, // demo nodes get a fresh key each run
    network: DEFAULT_NETWORK,
    moniker,
    status: undefined,
    web: undefined,
    maxInbound: undefined,
    maxOutbound: undefined,
    allowLocal: true, // everything here is on 127.0.0.1
    ...overrides,
  };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${STEP_TIMEOUT_MS} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function start(name: string, config: NodeConfig): Promise<RunningNode> {
  const node = await runNode(config, sentences(name), { onTx: printTx(name) });
  names.set(node.sw.nodeId, name);
  return node;
}

async function main(): Promise<void> {
  let values;
  let ws: HostPort;
  let web: HostPort;
  try {
    const options = { once: { type: 'boolean' }, ws: { type: 'string' }, web: { type: 'string' }, help: { type: 'boolean', short: 'h' } } as const;
    values = parseArgs({ options }).values;
    ws = parseHostPort('--ws', values.ws ?? DEFAULT_WS);
    web = parseHostPort('--web', values.web ?? DEFAULT_WEB);
  } catch (error) {
    console.error(`npm start: ${(error as Error).message.split('\n')[0]!}\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  if (values.help === true) {
    console.log(USAGE);
    return;
  }
  const nodes: RunningNode[] = [];
  const stopAll = async (): Promise<void> => {
    await Promise.all(nodes.map((node) => node.stop()));
  };
  try {
    const relay = await start('relay', demoConfig('relay', { ws, web }));
    nodes.push(relay);
    const relayAddress = relay.started.listen[0]!;
    say('relay', `listening on ${relay.started.listen.join(' and ')}`);
    say('relay', `status at ${relay.started.web}/status`);
    for (const name of ['alice', 'bob']) nodes.push(await start(name, demoConfig(name, { persistent: [relayAddress] })));
    // Both ends: the relay admits a peer a moment before that peer hears it was accepted, and a tx
    // originated by a node that has no peer yet would reach no one (the mempool gossips new txs only).
    // (A browser may already be connected to the relay too.)
    const [alice, bob] = [nodes[1]!, nodes[2]!];
    const connected = (node: RunningNode, to: RunningNode): boolean => node.sw.getPeer(to.sw.nodeId) !== undefined;
    await until(
      () => [alice, bob].every((node) => connected(node, relay) && connected(relay, node)),
      'alice and bob to connect to the relay',
    );

    const texts = ['hello from alice', 'hello from bob', 'the relay says hi'];
    const txs = texts.map((text) => new TextEncoder().encode(text));
    alice.mempool.addTx(txs[0]!);
    bob.mempool.addTx(txs[1]!);
    relay.mempool.addTx(txs[2]!);
    await until(() => nodes.every((node) => txs.every((tx) => node.mempool.has(txHash(tx)))), 'every node to have every tx');
    say('demo', `done: ${nodes.map((node) => `${names.get(node.sw.nodeId)} has ${node.mempool.size} txs`).join(', ')}`);
  } catch (error) {
    const message = (error as Error).message;
    const hint = message.includes('EADDRINUSE') ? ' (a port is taken: pick others, e.g. npm start -- --ws 127.0.0.1:0 --web 127.0.0.1:0)' : '';
    console.error(`demo failed: ${message}${hint}`);
    process.exitCode = 1;
    await stopAll();
    return;
  }

  if (values.once === true) {
    await stopAll();
    return;
  }
  const relay = nodes[0]!;
  say('demo', `open ${relay.started.web}/ in a browser to join from a page (every tab, or private window, is a node of its own)`);
  say('demo', 'running; press Ctrl-C to stop. Join from another terminal with:');
  say('demo', `  npx tsx demo/cli.ts node --listen tcp://127.0.0.1:0 --home /tmp/meshlink-joiner --persistent ${relay.started.listen[0]!}`);
  let stopping = false;
  const onSignal = (): void => {
    if (stopping) process.exit(130);
    stopping = true;
    say('demo', 'stopping…');
    stopAll().then(
      () => {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      },
      (error: unknown) => {
        console.error(`stop failed: ${(error as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
