import { homedir } from 'node:os';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_MAX_INBOUND_PEERS, DEFAULT_MAX_OUTBOUND_PEERS } from '../src/switch/constants.js';
import { DEFAULT_NETWORK, defaultHome, formatAddress, parseAddress, type IceServer } from '../platforms/node/index.js';
import { isLogLevel, LOG_LEVELS, type LogLevel } from './log.js';
import { RELAY_RECV_RATE_BYTES_PER_SEC, type HostPort, type NodeConfig } from './node-runner.js';

/** A bad flag or value: the CLI prints the message on one line and exits with code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export const DEFAULT_LISTEN = 'tcp://0.0.0.0:26656';
/** Node ids, monikers and networks are bounded by the handshake; refuse them here, not at start. */
const MAX_NAME_LENGTH = 64;
const MAX_PEER_LIMIT = 100_000;
/** What createNode's default transports (TCP, WebSocket) can dial. */
const DIALLABLE_PROTOCOLS: readonly string[] = ['tcp', 'ws', 'wss'];

export const USAGE = `Usage: meshlink node [options]
       meshlink --help
       meshlink --version

Runs a meshlink node: a TCP listener, the mempool gossip example agent, an optional HTTP status page
and an optional browser demo page.

Options:
  --listen <tcp://host:port>   listen address, repeatable; port 0 picks a free port (default ${DEFAULT_LISTEN})
  --ws <host:port>             also accept WebSocket peers (browsers) on ws://host:port/
  --trusted-proxy <ip>         a reverse proxy in front of --ws (e.g. nginx for wss://); peers through it are
                               known by its X-Forwarded-For (per-host limits see each client); repeatable
  --persistent <address>       peer to keep connected, tcp://<nodeId>@host:port or ws://…; repeatable
  --seeds <address,...>        peers to learn other peers from, comma-separated; repeatable
  --home <dir>                 where the node key and address book live (default ~/.meshlink)
  --network <name>             only peers on the same network connect (default ${DEFAULT_NETWORK})
  --moniker <name>             human-readable node name shown to peers (default: none)
  --allow-local                keep loopback and private addresses in the address book (LAN, testing)
  --seed-mode                  crawl: collect and hand out addresses, keep no long-term peers
  --nat <upnp|nat-pmp|none>    map the listening ports on the LAN's gateway (UPnP or NAT-PMP) and advertise them (default none)
  --webrtc                     also link to peers met through a relay over WebRTC (needs @roamhq/wrtc)
  --ice-server <url[,username,credential]>
                               a STUN or TURN server for WebRTC, repeatable, e.g. stun:stun.example.org:3478
                               or turn:turn.example.org:3478,alice,secret (TURN needs both); needs --webrtc
  --gossip-interval <ms>       originate a small transaction every <ms> ms (load for testnets; default off)
  --recv-rate <bytes/s>        what one peer may make this node read and process a second, each frame
                               counting at least 1 KiB (default ${RELAY_RECV_RATE_BYTES_PER_SEC}, 4 MiB; 0 for no limit);
                               announced to peers, whose meshlink connections send at most 90% of it
  --status <host:port>         serve GET /status (JSON) over HTTP; port 0 picks a free port
  --web <host:port>            serve the browser demo page over HTTP (with GET /config.json naming
                               the relay's WebSocket address, and GET /status); needs --ws
  --log-level <level>          ${LOG_LEVELS.join(' | ')} (default info)
  --max-inbound <n>            most inbound peers (default ${DEFAULT_MAX_INBOUND_PEERS})
  --max-outbound <n>           most outbound peers, persistent ones not counted (default ${DEFAULT_MAX_OUTBOUND_PEERS})
  -h, --help                   show this help
  --version                    print the meshlink package version

The first line on stdout is one JSON object:
  {"event":"started","nodeId":"…","listen":["tcp://<nodeId>@host:port"],"status":"http://host:port","web":null}
then one JSON log object per line ({"ts","level","event",…}). SIGINT or SIGTERM stops the node; a
closed stdout (| head -1) stops the logging, not the node.
Exit codes: 0 stopped by a signal, 1 failed at run time, 2 bad usage.`;

export type Command = { kind: 'help' } | { kind: 'version' } | { kind: 'node'; config: NodeConfig; logLevel: LogLevel };

const OPTIONS = {
  listen: { type: 'string', multiple: true },
  ws: { type: 'string' },
  persistent: { type: 'string', multiple: true },
  'trusted-proxy': { type: 'string', multiple: true },
  seeds: { type: 'string', multiple: true },
  home: { type: 'string' },
  network: { type: 'string' },
  moniker: { type: 'string' },
  status: { type: 'string' },
  web: { type: 'string' },
  'log-level': { type: 'string' },
  'max-inbound': { type: 'string' },
  'max-outbound': { type: 'string' },
  'allow-local': { type: 'boolean' },
  nat: { type: 'string' },
  'seed-mode': { type: 'boolean' },
  webrtc: { type: 'boolean' },
  'ice-server': { type: 'string', multiple: true },
  'gossip-interval': { type: 'string' },
  'recv-rate': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} as const;

/** Parses `argv` (without node and the script). Throws UsageError with a one-line reason. */
export function parseCommandLine(argv: readonly string[]): Command {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(describeParseError(error));
  }
  const { values, positionals } = parsed;
  if (values.help === true) return { kind: 'help' };
  if (values.version === true) return { kind: 'version' };
  const [command, ...extra] = positionals;
  if (command === undefined) throw new UsageError('missing command: try "meshlink node"');
  if (command === 'help') return { kind: 'help' };
  if (command !== 'node') throw new UsageError(`unknown command "${command}": try "meshlink node"`);
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);

  const logLevel = values['log-level'] ?? 'info';
  if (!isLogLevel(logLevel)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  const config: NodeConfig = {
    listen: (values.listen ?? [DEFAULT_LISTEN]).map(parseListenAddress),
    ws: values.ws === undefined ? undefined : parseHostPort('--ws', values.ws),
    persistent: (values.persistent ?? []).map((value) => parsePeerAddress('--persistent', value)),
    seeds: parseSeeds(values.seeds ?? []),
    home: expandHome(values.home ?? defaultHome()),
    network: parseName('--network', values.network ?? DEFAULT_NETWORK, 1),
    moniker: parseName('--moniker', values.moniker ?? '', 0),
    status: values.status === undefined ? undefined : parseHostPort('--status', values.status),
    web: values.web === undefined ? undefined : parseHostPort('--web', values.web),
    maxInbound: values['max-inbound'] === undefined ? undefined : parseCount('--max-inbound', values['max-inbound']),
    maxOutbound: values['max-outbound'] === undefined ? undefined : parseCount('--max-outbound', values['max-outbound']),
    nat: parseNat(values.nat),
    seedMode: values['seed-mode'] === true,
    allowLocal: values['allow-local'] === true,
    gossipIntervalMs: values['gossip-interval'] === undefined ? undefined : parseInterval('--gossip-interval', values['gossip-interval']),
    recvRateBytesPerSec: values['recv-rate'] === undefined ? undefined : parseRate('--recv-rate', values['recv-rate']),
    webrtc: values.webrtc === true ? { iceServers: (values['ice-server'] ?? []).map(parseIceServer) } : undefined,
    trustedProxies: values['trusted-proxy']?.map(parseProxyAddress),
  };
  if (config.trustedProxies !== undefined && config.ws === undefined) {
    throw new UsageError('--trusted-proxy is for a proxy in front of the WebSocket listener: add --ws <host:port>');
  }
  if (values['ice-server'] !== undefined && values.webrtc !== true) {
    throw new UsageError('--ice-server configures WebRTC: add --webrtc');
  }
  if (config.web !== undefined && config.ws === undefined) {
    throw new UsageError('--web serves a page that dials this node over WebSocket: add --ws <host:port>');
  }
  return { kind: 'node', config, logLevel };
}

/** `--trusted-proxy 127.0.0.1`: an IP address, as a socket reports a proxy's. Throws UsageError. */
function parseProxyAddress(value: string): string {
  if (isIP(value) === 0) throw new UsageError(`--trusted-proxy must be an IP address, got "${value}"`);
  return value;
}

/** `--seeds a,b --seeds c`: comma-separated peer addresses, repeatable. Throws UsageError. */
export function parseSeeds(values: readonly string[]): string[] {
  return values
    .flatMap((list) => list.split(','))
    .map((value) => value.trim())
    .filter((value) => value !== '')
    .map((value) => parsePeerAddress('--seeds', value));
}

function describeParseError(error: unknown): string {
  const { code, message } = error as { code?: string; message?: string };
  const text = String(message ?? error);
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const option = /'([^']+)'/.exec(text)?.[1] ?? text;
    return `unknown flag ${option} (run "meshlink --help" for usage)`;
  }
  // Node's messages are one sentence followed by advice; the sentence is what the user needs.
  return text.split(/\.\s/)[0]!.replace(/\.$/, '');
}

function parseListenAddress(value: string): string {
  const address = parseWith('--listen', value);
  if (address.protocol !== 'tcp') throw new UsageError(`--listen "${value}": only tcp:// here; use --ws for a WebSocket listener`);
  if (address.nodeId !== undefined) throw new UsageError(`--listen "${value}": a listen address carries no node id`);
  return formatAddress(address);
}

function parsePeerAddress(flag: string, value: string): string {
  const address = parseWith(flag, value);
  if (!DIALLABLE_PROTOCOLS.includes(address.protocol)) {
    throw new UsageError(`${flag} "${value}": this node dials ${DIALLABLE_PROTOCOLS.map((p) => `${p}://`).join(', ')} only`);
  }
  if (address.nodeId === undefined || address.port === 0) {
    throw new UsageError(`${flag} "${value}": expected tcp://<nodeId>@host:port (with the peer's 40-hex node id and a port)`);
  }
  return formatAddress(address);
}

function parseWith(flag: string, value: string): ReturnType<typeof parseAddress> {
  try {
    return parseAddress(value);
  } catch (error) {
    throw new UsageError(`${flag}: ${(error as Error).message}`);
  }
}

const HOST_PORT_PATTERN = /^(?:\[([0-9A-Fa-f:.%]+)\]|([A-Za-z0-9.\-_]+)):(\d{1,5})$/;

export function parseHostPort(flag: string, value: string): HostPort {
  const match = HOST_PORT_PATTERN.exec(value);
  if (match === null) throw new UsageError(`${flag} "${value}": expected host:port, e.g. 127.0.0.1:26657`);
  const port = Number(match[3]);
  if (port > 65535) throw new UsageError(`${flag} "${value}": port must be 0..65535`);
  return { host: match[1] ?? match[2]!, port };
}

function parseCount(flag: string, value: string): number {
  if (!/^\d{1,9}$/.test(value) || Number(value) > MAX_PEER_LIMIT) {
    throw new UsageError(`${flag} must be a whole number 0..${MAX_PEER_LIMIT}, got "${value}"`);
  }
  return Number(value);
}

/** Largest finite --recv-rate (a token bucket of 100 ms of it must stay a safe integer of bytes). */
const MAX_RECV_RATE_BYTES_PER_SEC = 2 ** 40;

function parseRate(flag: string, value: string): number {
  if (!/^\d{1,13}$/.test(value) || Number(value) > MAX_RECV_RATE_BYTES_PER_SEC) {
    throw new UsageError(`${flag} must be a whole number of bytes a second 0..${MAX_RECV_RATE_BYTES_PER_SEC} (0: no limit), got "${value}"`);
  }
  return Number(value);
}

/** Shortest gossip interval: a testnet node is a load generator, not a flood. */
const MIN_GOSSIP_INTERVAL_MS = 10;
const MAX_GOSSIP_INTERVAL_MS = 24 * 60 * 60 * 1000;

function parseInterval(flag: string, value: string): number {
  if (!/^\d{1,9}$/.test(value) || Number(value) < MIN_GOSSIP_INTERVAL_MS || Number(value) > MAX_GOSSIP_INTERVAL_MS) {
    throw new UsageError(`${flag} must be a whole number of ms, ${MIN_GOSSIP_INTERVAL_MS}..${MAX_GOSSIP_INTERVAL_MS}, got "${value}"`);
  }
  return Number(value);
}

function parseName(flag: string, value: string, minLength: number): string {
  if (value.length < minLength || value.length > MAX_NAME_LENGTH) {
    throw new UsageError(`${flag} must be ${minLength}..${MAX_NAME_LENGTH} characters`);
  }
  return value;
}

function parseNat(value: string | undefined): 'upnp' | 'nat-pmp' | undefined {
  if (value === undefined || value === 'none') return undefined;
  if (value === 'upnp' || value === 'nat-pmp') return value;
  throw new UsageError(`--nat must be upnp, nat-pmp or none, got "${value}"`);
}

const ICE_URL_PATTERN = /^(stuns?|turns?):[^\s,]{1,250}$/;

/**
 * `--ice-server url[,username,credential]`: the credential is everything after the second comma, so
 * it may itself hold commas. TURN servers need both username and credential; STUN servers take none.
 */
export function parseIceServer(value: string): IceServer {
  const [url = '', username, ...rest] = value.split(',');
  const credential = rest.length === 0 ? undefined : rest.join(',');
  const scheme = ICE_URL_PATTERN.exec(url)?.[1];
  if (scheme === undefined) throw new UsageError(`--ice-server "${url}": expected a stun:, stuns:, turn: or turns: URL, e.g. stun:stun.example.org:3478`);
  const turn = scheme.startsWith('turn');
  if (turn && (username === undefined || username === '' || credential === undefined || credential === '')) {
    throw new UsageError(`--ice-server "${url}": a TURN server needs url,username,credential`);
  }
  if (!turn && username !== undefined) throw new UsageError(`--ice-server "${url}": a STUN server takes no username or credential`);
  return turn ? { urls: url, username, credential } : { urls: url };
}

/** Shells expand `~` only at the start of a word, so `--home=~/x` arrives unexpanded. */
function expandHome(path: string): string {
  if (path === '~') return homedir();
  if (path.startsWith('~/')) return resolve(homedir(), path.slice(2));
  return resolve(path);
}
