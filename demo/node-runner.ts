import { FileStorage, MemoryStorage, PEX_AGENT_NAME, createNode, type NatAgent, type Storage, type Switch } from '../platforms/node/index.js';
import type { PEXAgent } from '../src/pex/pex-agent.js';
import { MempoolAgent, type TxListener } from './agents/mempool.js';
import { errorFields, type Logger } from './log.js';
import { startStatusServer, type StatusServer } from './status-server.js';

/**
 * The one way the demo programs start a node: `meshlink node` (cli.ts) and `npm start` (start.ts)
 * both call `runNode`, so what the demo shows is what the CLI runs.
 */

export interface HostPort {
  host: string;
  port: number;
}

/** Everything `meshlink node` can be told, already validated (see cli-args.ts). */
export interface NodeConfig {
  /** Listen addresses without node id, e.g. `tcp://127.0.0.1:0`. */
  listen: string[];
  /** Where to also accept WebSocket peers (browsers), served on `ws://host:port/`. */
  ws: HostPort | undefined;
  /** Full addresses (with node id) to keep connected. */
  persistent: string[];
  /** Full addresses of seed nodes, for the PEX agent to bootstrap from. */
  seeds: string[];
  /** Directory for the node key and address book; undefined keeps the key in memory only (demo nodes). */
  home: string | undefined;
  network: string;
  moniker: string;
  /** Where to serve `GET /status`; undefined for no HTTP server. */
  status: HostPort | undefined;
  maxInbound: number | undefined;
  maxOutbound: number | undefined;
  /** Let the address book keep loopback and private addresses (local meshes, LANs). */
  allowLocal: boolean;
  /** Map the listening ports on the gateway and advertise them. */
  nat?: 'upnp' | undefined;
  /** Crawl: collect and hand out addresses, keep no long-term peers. */
  seedMode?: boolean;
}

/** The CLI's first stdout line. */
export interface StartedInfo {
  event: 'started';
  nodeId: string;
  listen: string[];
  status: string | null;
}

export interface RunningNode {
  readonly sw: Switch;
  readonly mempool: MempoolAgent;
  readonly pex: PEXAgent;
  readonly started: StartedInfo;
  /** Stops the switch (flushing peers), then the status server. Idempotent. */
  stop(): Promise<void>;
}

export interface RunNodeHooks {
  /** Also told about each new tx (the demo prints them). */
  onTx?: TxListener;
}

export async function runNode(config: NodeConfig, log: Logger, hooks: RunNodeHooks = {}): Promise<RunningNode> {
  // One storage for the key (createNode) and the address book (PEX): both live in the home.
  const storage: Storage = config.home === undefined ? new MemoryStorage() : new FileStorage(config.home);
  const sw = await createNode({
    storage,
    network: config.network,
    moniker: config.moniker,
    listen: config.ws === undefined ? config.listen : [...config.listen, wsListenAddress(config.ws)],
    persistentPeers: config.persistent,
    maxInbound: config.maxInbound,
    maxOutbound: config.maxOutbound,
    nat: config.nat ?? false,
    pex: {
      seeds: config.seeds,
      seedMode: config.seedMode ?? false,
      allowLocal: config.allowLocal,
      onWarning: (message) => log('warn', 'pex:warning', { message }),
    },
  });
  const mempool = new MempoolAgent({
    onTx: (tx, info) => {
      log('debug', 'tx', { hash: info.hash, from: info.from?.id ?? 'local', bytes: tx.length });
      hooks.onTx?.(tx, info);
    },
  });
  const pex = sw.getAgent<PEXAgent>(PEX_AGENT_NAME)!;
  sw.addAgent('mempool', mempool);
  const stopLogging = logSwitchEvents(sw, pex, log);

  // The status server starts first so its bound port can go into the "started" line.
  let status: StatusServer | undefined;
  try {
    if (config.status !== undefined) status = await startStatusServer(() => sw.status(), config.status);
    await sw.start();
  } catch (error) {
    stopLogging();
    await status?.close();
    throw error;
  }

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      try {
        await sw.stop();
      } finally {
        await status?.close();
        stopLogging();
      }
    })());

  return {
    sw,
    mempool,
    pex,
    started: { event: 'started', nodeId: sw.nodeId, listen: sw.addresses, status: status?.url ?? null },
    stop,
  };
}

function wsListenAddress({ host, port }: HostPort): string {
  return `ws://${host.includes(':') ? `[${host}]` : host}:${port}/`;
}

/** Turns the Switch's (and PEX's) events into log entries; returns the function that detaches them. */
function logSwitchEvents(sw: Switch, pex: PEXAgent, log: Logger): () => void {
  const detach = [
    sw.on('peer:connected', ({ peer }) =>
      log('info', 'peer:connected', { peer: peer.id, moniker: peer.nodeInfo.moniker, direction: peer.direction, address: peer.address }),
    ),
    sw.on('peer:disconnected', ({ peer, reason }) =>
      log('info', 'peer:disconnected', { peer: peer.id, ...(reason === undefined ? {} : { reason: errorFields(reason) }) }),
    ),
    sw.on('peer:error', ({ peer, error }) => log('warn', 'peer:error', { peer: peer.id, error: errorFields(error) })),
    sw.on('dial:failed', ({ address, error, willRetry }) => log('warn', 'dial:failed', { address, willRetry, error: errorFields(error) })),
    sw.on('inbound:rejected', ({ remoteAddress, error }) => log('info', 'inbound:rejected', { remoteAddress, error: errorFields(error) })),
    sw.on('agent:error', ({ agent, error }) => log('error', 'agent:error', { agent, error: errorFields(error) })),
    pex.on('misbehaviour', ({ peer, error }) => log('warn', 'pex:misbehaviour', { peer: peer.id, error: errorFields(error) })),
    pex.on('addresses', ({ peer, received, added }) => log('debug', 'pex:addresses', { peer: peer.id, received, added })),
  ];
  const nat = sw.getAgent<NatAgent>('nat');
  if (nat !== undefined) {
    detach.push(
      nat.on('addresses', ({ addresses }) => log('info', 'nat:addresses', { addresses })),
      nat.on('warning', (warning) =>
        log('warn', 'nat:warning', { reason: warning.reason, message: warning.message, ...('upnpCode' in warning ? { upnpCode: warning.upnpCode } : {}) }),
      ),
    );
  }
  return () => {
    for (const off of detach) off();
  };
}
