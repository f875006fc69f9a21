import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_NETWORK } from '../platforms/node/index.js';
import type { ChatListener } from './agents/chat.js';
import { txHash, type TxListener } from './agents/mempool.js';
import type { Logger } from './log.js';
import { parseHostPort, parseSeeds } from './cli-args.js';
import { runNode, type HostPort, type NodeConfig, type RunningNode } from './node-runner.js';
import { printable } from './printable.js';

/**
 * `npm start`: the demo, started exactly as `meshlink node` starts a node (node-runner.ts): a relay that
 * also accepts WebSocket peers and serves the browser demo page, and two nodes that keep a persistent
 * connection to it. Each originates a transaction; the MempoolAgent gossips them through the relay, and
 * every step is printed as a sentence. Then it prints the page's URL: each tab that opens it is a node
 * that finds the other tabs through the relay and links to them directly (WebRTC). Chat typed in a page
 * is printed here too. `--seeds <address>` joins another demo's relay, so two relays (and their pages)
 * make one mesh. Runs until Ctrl-C, or exits with `--once`.
 */

/** Bound on each wait of the demo, so a broken build fails loudly instead of hanging. */
const STEP_TIMEOUT_MS = 10 * 1000;
const NAME_WIDTH = 6;

const DEFAULT_TCP = '127.0.0.1:0';
const DEFAULT_WS = '127.0.0.1:26657';
const DEFAULT_WEB = '127.0.0.1:8080';

const USAGE = `Usage: npm start [-- [--once] [--tcp host:port] [--ws host:port] [--web host:port] [--seeds address,…] [--home dir] [--moniker name]]
  Starts a relay and two nodes on 127.0.0.1, gossips a few transactions and prints what happens;
  the relay also serves the browser demo page, whose tabs find each other through it.
  --once               exit after the exchange instead of running until Ctrl-C
  --tcp <host:port>    the relay's TCP listener, for other Node nodes and relays (default ${DEFAULT_TCP}: a free port)
  --ws <host:port>     the relay's WebSocket listener, which browsers dial (default ${DEFAULT_WS}; port 0: a free port)
  --web <host:port>    where the relay serves the demo page (default ${DEFAULT_WEB}; port 0: a free port)
  --seeds <address,…>  other relays to join (kept connected and asked for peers), e.g. the
                       tcp://<id>@host:port another "npm start" printed; comma-separated, repeatable
  --home <dir>         keep the relay's key (its node id) and address book in dir across runs
                       (default: a new key each run)
  --moniker <name>     the relay's name on the pages' graph (default "relay", or "relay-2" with --seeds);
                       its two nodes are named after it`;

const names = new Map<string, string>();

function say(who: string, text: string): void {
  // Monikers, chat names and close reasons are a peer's words: they must not act on the terminal.
  console.log(`${who.padEnd(NAME_WIDTH)} ${printable(text)}`);
}

/** Our own nodes by the name we gave them; others (another demo's relay) by their moniker and id. */
function nameOf(nodeId: unknown, moniker?: unknown): string {
  const id = String(nodeId);
  const known = names.get(id);
  if (known !== undefined) return known;
  return typeof moniker === 'string' && moniker !== '' ? `${moniker} (${id.slice(0, 8)}…)` : `${id.slice(0, 8)}…`;
}

/** The human renderer of the node-runner's log events (the CLI renders the same events as JSON). */
function sentences(who: string): Logger {
  return (level, event, fields = {}) => {
    const why = (fields['error'] ?? fields['reason']) as { code?: string; message?: string } | undefined;
    const because = why === undefined ? '' : ` (${why.code ?? why.message ?? 'unknown'})`;
    switch (event) {
      case 'peer:connected':
        return say(who, `connected to ${nameOf(fields['peer'], fields['moniker'])} (${String(fields['direction'])})`);
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
    else say(who, `← tx ${text} (${hash.slice(0, 8)}) from ${nameOf(from.id, from.nodeInfo.moniker)}`);
  };
}

function printChat(who: string): ChatListener {
  return ({ origin, name, text, hops }) => {
    const author = `${name === '' ? 'someone' : name} (${origin.slice(0, 8)})`;
    if (hops > 0) say(who, `chat from ${author}, ${hops} hop${hops === 1 ? '' : 's'}: ${JSON.stringify(text)}`);
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

async function start(name: string, config: NodeConfig, chat = false): Promise<RunningNode> {
  const node = await runNode(config, sentences(name), { onTx: printTx(name), ...(chat ? { onChat: printChat(name) } : {}) });
  names.set(node.sw.nodeId, name);
  return node;
}

async function main(): Promise<void> {
  let values;
  let tcp: HostPort;
  let ws: HostPort;
  let web: HostPort;
  let seeds: string[];
  try {
    const options = {
      once: { type: 'boolean' },
      tcp: { type: 'string' },
      ws: { type: 'string' },
      web: { type: 'string' },
      seeds: { type: 'string', multiple: true },
      home: { type: 'string' },
      moniker: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    } as const;
    values = parseArgs({ options }).values;
    tcp = parseHostPort('--tcp', values.tcp ?? DEFAULT_TCP);
    ws = parseHostPort('--ws', values.ws ?? DEFAULT_WS);
    web = parseHostPort('--web', values.web ?? DEFAULT_WEB);
    seeds = parseSeeds(values.seeds ?? []);
    if (values.moniker !== undefined && (values.moniker.length === 0 || values.moniker.length > 64)) throw new Error('--moniker must be 1..64 characters');
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
    // A second demo joining the first gets names of its own, so the pages' graph tells the two apart.
    const relayName = values.moniker ?? (seeds.length === 0 ? 'relay' : 'relay-2');
    const suffix = relayName === 'relay' ? '' : relayName.startsWith('relay-') ? relayName.slice('relay'.length) : `-${relayName}`;
    const relayConfig = demoConfig(relayName, {
      listen: [`tcp://${tcp.host.includes(':') ? `[${tcp.host}]` : tcp.host}:${tcp.port}`],
      ws,
      web,
      // Other relays: kept connected (the backbone of a two-relay mesh) and asked for their peers.
      seeds,
      persistent: seeds,
      home: values.home === undefined ? undefined : resolve(values.home),
    });
    const relay = await start(relayName, relayConfig, true);
    nodes.push(relay);
    const relayAddress = relay.started.listen[0]!;
    say(relayName, `listening on ${relay.started.listen.join(' and ')}`);
    say(relayName, `serving the demo page at ${relay.started.web}/`);
    say(relayName, `status at ${relay.started.web}/status`);
    if (seeds.length > 0) say(relayName, `joining ${seeds.join(', ')}`);
    for (const name of ['alice', 'bob']) nodes.push(await start(`${name}${suffix}`, demoConfig(`${name}${suffix}`, { persistent: [relayAddress] })));
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
  say('demo', `open ${relay.started.web}/ in a browser: every tab (or private window) is a node of its own, and tabs link directly`);
  say('demo', 'running; press Ctrl-C to stop. A second relay joins this one (both show in one graph) with:');
  say('demo', `  npm start -- --ws 127.0.0.1:0 --web 127.0.0.1:0 --seeds ${relay.started.listen[0]!}`);
  say('demo', 'or a single node:');
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
