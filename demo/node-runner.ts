import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  MemoryStorage,
  PEX_AGENT_NAME,
  createNode,
  formatAddress,
  parseAddress,
  type IceServer,
  type NatAgent,
  type Switch,
  type SwitchStatus,
} from '../platforms/node/index.js';
import type { PEXAgent } from '../src/pex/pex-agent.js';
import { BurstAgent } from './agents/burst.js';
import { ChatAgent, type ChatListener } from './agents/chat.js';
import { MempoolAgent, type TxListener } from './agents/mempool.js';
import { TopologyAgent, type TopologySnapshot } from './agents/topology.js';
import { limitPeerDrivenLogs } from './log-limit.js';
import { errorFields, type Logger } from './log.js';
import { startHttpServer, type HttpServer } from './http-server.js';

/**
 * The one way the demo programs start a node: `meshlink node` (cli.ts) and `npm start` (start.ts)
 * both call `runNode`, so what the demo shows is what the CLI runs.
 */

export interface HostPort {
  host: string;
  port: number;
}

/**
 * The relay program's receive limit per peer (the SDK's `recvRateBytesPerSec`, unlimited by default): far
 * above what pages and nodes of the demo send (chat, gossip, signalling, a mempool of 1 MiB/s at most),
 * and what keeps one stranger's tiny frames from taking a core: under a rate, every shape measured costs
 * about what honest 1 KiB messages at that rate do (bench/cpu-per-byte.ts --recv-rate). CometBFT's
 * default is 5 MB/s.
 */
export const RELAY_RECV_RATE_BYTES_PER_SEC = 4 * 1024 * 1024;

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
  /**
   * Where to serve the browser demo (the page, the SDK bundle, `GET /config.json` naming the relay's
   * WebSocket address, and `GET /status`); needs `ws`. Undefined for none.
   */
  web?: HostPort | undefined;
  maxInbound: number | undefined;
  maxOutbound: number | undefined;
  /** Let the address book keep loopback and private addresses (local meshes, LANs). */
  allowLocal: boolean;
  /** Map the listening ports on the gateway and advertise them. */
  nat?: 'upnp' | 'nat-pmp' | undefined;
  /** Crawl: collect and hand out addresses, keep no long-term peers. */
  seedMode?: boolean;
  /**
   * Originate a small transaction every this many ms (`<moniker>/<seq>/<epoch ms>`), gossiped by the
   * mempool: load for testnets, which time its spread from the `tx` log events. Undefined for none.
   */
  gossipIntervalMs?: number | undefined;
  /**
   * What one peer may make us read and process a second, in bytes: each sealed frame counts at least
   * 1 KiB and each message 128 B, so a peer of tiny frames gets no more of our CPU than one of 1 KiB
   * messages. 0 for no limit. @default RELAY_RECV_RATE_BYTES_PER_SEC (4 MiB/s)
   */
  recvRateBytesPerSec?: number | undefined;
  /** Link to peers met through a relay over WebRTC (Node: @roamhq/wrtc), with these STUN/TURN servers. */
  webrtc?: { iceServers: IceServer[] } | undefined;
  /** Reverse proxies in front of the WebSocket listener whose `X-Forwarded-For` names the client. */
  trustedProxies?: string[] | undefined;
}

/** `GET /config.json` of the demo page's server. */
export interface PageConfig {
  /** The relay's WebSocket address with its node id, e.g. `ws://<id>@127.0.0.1:26657/`. */
  relay: string;
  network: string;
  /**
   * Present (true) when the relay runs with `--allow-local`: the page's PEX then keeps loopback and
   * private addresses too, as on a laptop or a LAN.
   */
  allowLocal?: true;
}

/** `GET /status`: the Switch's status and the topology the node knows from the gossip. */
export interface NodeStatus extends SwitchStatus {
  topology: TopologySnapshot;
}

/** The CLI's first stdout line. */
export interface StartedInfo {
  event: 'started';
  nodeId: string;
  listen: string[];
  status: string | null;
  /** The demo page's server (`--web`), e.g. `http://127.0.0.1:8080`. */
  web: string | null;
}

export interface RunningNode {
  readonly sw: Switch;
  readonly mempool: MempoolAgent;
  readonly topology: TopologyAgent;
  readonly chat: ChatAgent;
  readonly burst: BurstAgent;
  readonly pex: PEXAgent;
  readonly started: StartedInfo;
  /** Stops the switch (flushing peers), then the HTTP servers. Idempotent. */
  stop(): Promise<void>;
}

export interface RunNodeHooks {
  /** Also told about each new tx (the demo prints them). */
  onTx?: TxListener;
  /** Told about each chat message (the demo prints them). */
  onChat?: ChatListener;
}

export async function runNode(config: NodeConfig, unlimitedLog: Logger, hooks: RunNodeHooks = {}): Promise<RunningNode> {
  // What any peer can cause once per connection is rate-limited (see log-limit.ts).
  const limitedLog = limitPeerDrivenLogs(unlimitedLog);
  try {
    return await startNode(config, limitedLog.log, hooks, limitedLog.stop);
  } catch (error) {
    limitedLog.stop();
    throw error;
  }
}

async function startNode(config: NodeConfig, log: Logger, hooks: RunNodeHooks, stopLog: () => void): Promise<RunningNode> {
  // The key and the address book live in the home, which createNode locks (one node per home);
  // without a home, a fresh key in memory.
  const sw = await createNode({
    ...(config.home === undefined ? { storage: new MemoryStorage() } : { home: config.home }),
    network: config.network,
    moniker: config.moniker,
    listen: config.ws === undefined ? config.listen : [...config.listen, wsListenAddress(config.ws)],
    persistentPeers: config.persistent,
    maxInbound: config.maxInbound,
    ...(config.trustedProxies === undefined ? {} : { ws: { trustedProxies: config.trustedProxies } }),
    maxOutbound: config.maxOutbound,
    // The program is open to strangers: the SDK's default (no limit) leaves CPU per peer to the peer.
    connection: { recvRateBytesPerSec: config.recvRateBytesPerSec ?? RELAY_RECV_RATE_BYTES_PER_SEC },
    nat: config.nat ?? false,
    webrtc: config.webrtc === undefined ? false : { iceServers: config.webrtc.iceServers, onRoute: (route) => log('info', 'webrtc:route', { ...route }) },
    // Pages connected to us find each other through our PEX answers and signal through us.
    relay: true,
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
  // A node that serves pages over WebSocket is what the pages call a relay.
  const topology = new TopologyAgent({ kind: config.ws === undefined ? 'node' : 'relay' });
  const chat = new ChatAgent({
    onMessage: (message) => {
      log('info', 'chat', { origin: message.origin, name: message.name, hops: message.hops, chars: message.text.length });
      hooks.onChat?.(message);
    },
  });
  const burst = new BurstAgent();
  sw.addAgent('topology', topology);
  sw.addAgent('chat', chat);
  sw.addAgent('burst', burst);
  const nodeStatus = (): NodeStatus => ({ ...sw.status(), topology: topology.snapshot() });
  const stopLogging = logSwitchEvents(sw, pex, log);

  // The HTTP servers start first so their bound ports can go into the "started" line.
  const servers: HttpServer[] = [];
  let status: HttpServer | undefined;
  let web: HttpServer | undefined;
  try {
    if (config.web !== undefined && config.ws === undefined) throw new Error('the demo page (web) needs a WebSocket listener (ws)');
    if (config.status !== undefined) servers.push((status = await startHttpServer({ at: config.status, status: nodeStatus })));
    if (config.web !== undefined) {
      const distDirs = browserBuildDirs();
      if (!distDirs.some(hasBrowserBuild)) log('warn', 'web:no-build', { message: 'no browser build found: run "npm run build:browser"', looked: distDirs });
      const pageConfig = (host: string | undefined): PageConfig | undefined => {
        const relay = pageRelayAddress(sw.addresses, host);
        if (relay === undefined) return undefined;
        return { relay, network: config.network, ...(config.allowLocal ? { allowLocal: true as const } : {}) };
      };
      const routes = { distDirs, config: pageConfig };
      servers.push((web = await startHttpServer({ at: config.web, status: nodeStatus, web: routes })));
    }
    await sw.start();
  } catch (error) {
    stopLogging();
    await Promise.all(servers.map((server) => server.close()));
    await sw.stop(); // gives the home lock back when a server, not the switch, failed
    throw error;
  }

  let gossipSeq = 0;
  const gossip = config.gossipIntervalMs === undefined
    ? undefined
    : setInterval(() => mempool.addTx(new TextEncoder().encode(`${config.moniker}/${gossipSeq++}/${Date.now()}`)), config.gossipIntervalMs);
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      clearInterval(gossip);
      try {
        await sw.stop();
      } finally {
        await Promise.all(servers.map((server) => server.close()));
        stopLogging();
        stopLog();
      }
    })());

  return {
    sw,
    mempool,
    topology,
    chat,
    burst,
    pex,
    started: { event: 'started', nodeId: sw.nodeId, listen: sw.addresses, status: status?.url ?? null, web: web?.url ?? null },
    stop,
  };
}

function wsListenAddress({ host, port }: HostPort): string {
  return `ws://${host.includes(':') ? `[${host}]` : host}:${port}/`;
}

/**
 * Where the esbuild output may be: `dist/` beside `dist/demo/` when running compiled (the package's
 * bin), or `<repo>/dist/` when running from source with tsx.
 */
function browserBuildDirs(): string[] {
  const here = dirname(fileURLToPath(import.meta.url));
  return [resolve(here, '..'), resolve(here, '../dist')];
}

function hasBrowserBuild(dir: string): boolean {
  return existsSync(resolve(dir, 'demo-web/index.html'));
}

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '']);
const HOSTNAME_PATTERN = /^(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])$/;

/**
 * The WebSocket address the page should dial. A relay listening on a wildcard host is reached at the
 * host name the browser used for the page (the Host header), which is the one it can route to.
 */
export function pageRelayAddress(addresses: readonly string[], requestHost: string | undefined): string | undefined {
  const ws = addresses.find((address) => address.startsWith('ws://'));
  if (ws === undefined) return undefined;
  const address = parseAddress(ws);
  if (!WILDCARD_HOSTS.has(address.host) || requestHost === undefined) return ws;
  const hostname = requestHost.replace(/:\d+$/, '');
  if (!HOSTNAME_PATTERN.test(hostname)) return ws;
  return formatAddress({ ...address, host: hostname.replace(/^\[|\]$/g, '') });
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
    sw.on('agent:error', ({ agent, error, suppressed }) => log('error', 'agent:error', { agent, error: errorFields(error), ...(suppressed === undefined ? {} : { suppressed }) })),
    sw.on('stop-hook:error', ({ hook, error }) => log('error', 'stop-hook:error', { hook, error: errorFields(error) })),
    pex.on('misbehaviour', ({ peer, error }) => log('warn', 'pex:misbehaviour', { peer: peer.id, error: errorFields(error) })),
    pex.on('addresses', ({ peer, received, added }) => log('debug', 'pex:addresses', { peer: peer.id, received, added })),
  ];
  const nat = sw.getAgent<NatAgent>('nat');
  if (nat !== undefined) {
    detach.push(
      nat.on('addresses', ({ addresses }) => log('info', 'nat:addresses', { addresses })),
      nat.on('warning', (warning) =>
        log('warn', 'nat:warning', { reason: warning.reason, message: warning.message, ...('upnpCode' in warning ? { upnpCode: warning.upnpCode, natPmpCode: warning.natPmpCode } : {}) }),
      ),
    );
  }
  return () => {
    for (const off of detach) off();
  };
}
