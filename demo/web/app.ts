/**
 * The browser demo page (demo/web/index.html): a meshlink node in the page. It joins the relay that
 * served it (WebSocket, a persistent peer), learns the other pages from the relay's PEX answers and
 * links to them directly over WebRTC. Three agents run on top:
 * - TopologyAgent (channel 0x31): bounded gossip of who is linked to whom, drawn as a live graph;
 * - ChatAgent (0x32): flood gossip of chat messages, each shown once with its author and hop count;
 * - BurstAgent (0x33): the "send a burst" button's load, so that the traffic plot moves.
 * The build (platforms/browser/build.mjs) bundles this file into dist/demo-web/app.js and makes its SDK
 * imports load the shipped bundle, dist/browser/meshlink.js.
 *
 * The relay address comes from `?relay=ws://<id>@host:port/` (with `&network=` and `&allowLocal=1`) or
 * else from the relay's `GET /config.json`. `window.meshlinkDemo` is a small hook for tests and the console.
 */
import { createNode, IndexedDbStorage, loadOrCreateNodeKey, parseAddress, type Peer, type PeerStatus, type Switch } from '../../platforms/browser/index.js';
import { BurstAgent, DEFAULT_BURST_MESSAGES, type BurstResult } from '../agents/burst.js';
import { ChatAgent, MAX_CHAT_TEXT_BYTES, type ChatDelivery } from '../agents/chat.js';
import { TopologyAgent, type TopologySnapshot } from '../agents/topology.js';
import { MeshModel, type Graph } from './graph-model.js';
import { describeGraph, GraphView } from './graph-view.js';
import { friendlyName, label } from './names.js';
import { describeConnection, type ConnectionState } from './status-text.js';
import { formatBytes, formatCount, renderPlot, TrafficMeter, type RateSample } from './traffic.js';

export interface DemoPeer {
  id: string;
  moniker: string;
  transport: string;
  direction: string;
}

export interface DemoChat {
  id: string;
  text: string;
  origin: string;
  name: string;
  /** Links it travelled; 0 for a message written in this tab. */
  hops: number;
  /** 'self' for a message written here, else the id of the peer it arrived from. */
  from: string;
  /** The transport of the link it arrived on; undefined for our own. */
  transport: string | undefined;
}

export interface MeshlinkDemo {
  state: 'starting' | 'running' | 'failed';
  error: string | undefined;
  nodeId: string | undefined;
  moniker: string | undefined;
  /** The relay's address, as the page dials it. */
  relay: string | undefined;
  relayId: string | undefined;
  /** The IndexedDB database holding this page's key and address book. */
  keyStore: string | undefined;
  peers(): DemoPeer[];
  /** What the graph shows (live and gone nodes, links between live ones). */
  graph(): Graph;
  topology(): TopologySnapshot | undefined;
  chat(): DemoChat[];
  /** Sends a chat message; returns its id. Throws before the node runs or for an empty or too long text. */
  sendChat(text: string): string;
  burst(count?: number): Promise<BurstResult>;
  /** The connection state as shown. */
  statusText(): string;
  traffic(): RateSample[];
}

declare global {
  interface Window {
    meshlinkDemo?: MeshlinkDemo;
  }
}

interface PageConfig {
  relay: string;
  network: string;
  allowLocal: boolean;
  /** 'url' when given in the page's address, 'server' when read from /config.json. */
  source: 'url' | 'server';
}

const DEFAULT_NETWORK = 'meshlink';
const CONFIG_TIMEOUT_MS = 10_000;
/** Chat messages kept for the list and the hook. */
const MAX_SHOWN_CHAT = 500;
/** Tabs of one browser share IndexedDB: each takes the first free key slot (a Web Lock), so each is its own node. */
const MAX_KEY_SLOTS = 16;
const KEY_STORE_PREFIX = 'meshlink-demo';
/** Come back quickly when the relay restarts: a page has nothing better to do. */
const RECONNECT = { baseDelayMs: 500, maxDelayMs: 5_000, jitterRatio: 0.25 };
/**
 * PEX for pages: look at the address book every second so that new tabs are dialled promptly, but ask
 * any one peer for addresses at most every 20 s (twice our minRequestIntervalMs), well clear of a
 * relay's default minimum of 10 s between requests, which a page must never trip. (A page asks its
 * relay at once when it connects, which is how it learns the tabs already there; tabs that come later
 * dial it.)
 */
const PAGE_PEX = { ensurePeersIntervalMs: 1_000, minRequestIntervalMs: 10_000, dialJitterMs: 250 };
/** Ping each peer every 15 s (the default is a minute), so that the table shows round trips early. */
const PAGE_CONNECTION = { pingIntervalMs: 15_000, pongTimeoutMs: 10_000 };
const TICK_MS = 1_000;
const RENDER_DELAY_MS = 50;

const $ = <T extends Element = HTMLElement>(id: string): T => {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`#${id} is missing from the page`);
  return element as unknown as T;
};

const ui = {
  error: $('error'),
  moniker: $('moniker'),
  nodeId: $('node-id'),
  relay: $('relay'),
  relayName: $('relay-name'),
  status: $('status'),
  graph: $<SVGSVGElement>('graph'),
  graphSummary: $('graph-summary'),
  chatLog: $<HTMLOListElement>('chat-log'),
  chatForm: $<HTMLFormElement>('chat-form'),
  chatInput: $<HTMLInputElement>('chat-input'),
  chatSend: $<HTMLButtonElement>('chat-send'),
  chatFeedback: $('chat-feedback'),
  plotMessages: $<SVGSVGElement>('plot-messages'),
  plotMessagesCaption: $('plot-messages-caption'),
  plotBytes: $<SVGSVGElement>('plot-bytes'),
  plotBytesCaption: $('plot-bytes-caption'),
  burst: $<HTMLButtonElement>('burst'),
  burstFeedback: $('burst-feedback'),
  peerRows: $<HTMLTableElement>('peer-table').tBodies[0]!,
  channelRows: $<HTMLTableElement>('channel-table').tBodies[0]!,
};

let node: Switch | undefined;
let topology: TopologyAgent | undefined;
let chat: ChatAgent | undefined;
let burst: BurstAgent | undefined;
const model = new MeshModel();
const graphView = new GraphView(ui.graph);
const traffic = new TrafficMeter();
const chatLog: DemoChat[] = [];
const relayState = { failures: 0, retryAt: undefined as number | undefined, everConnected: false, problem: undefined as string | undefined };

const hook: MeshlinkDemo = {
  state: 'starting',
  error: undefined,
  nodeId: undefined,
  moniker: undefined,
  relay: undefined,
  relayId: undefined,
  keyStore: undefined,
  peers: () => (node?.peers ?? []).map((peer) => ({ id: peer.id, moniker: peer.nodeInfo.moniker, transport: peer.transport, direction: peer.direction })),
  graph: () => currentGraph(),
  topology: () => topology?.snapshot(),
  chat: () => chatLog.map((message) => ({ ...message })),
  sendChat: (text) => {
    if (chat === undefined || hook.state !== 'running') throw new Error('the node is not running');
    return chat.send(text).id;
  },
  burst: (count = DEFAULT_BURST_MESSAGES) => {
    if (burst === undefined || hook.state !== 'running') return Promise.reject(new Error('the node is not running'));
    return burst.burst(count);
  },
  statusText: () => ui.status.textContent ?? '',
  traffic: () => traffic.history(),
};
window.meshlinkDemo = hook;

// ─── errors, as sentences ───────────────────────────────────────────────────────────────────────

function showError(sentence: string): void {
  ui.error.textContent = sentence;
  ui.error.hidden = false;
}

function sentence(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const trimmed = text.trim().replace(/\.$/, '');
  return trimmed === '' ? 'an unknown error' : trimmed;
}

addEventListener('error', (event) => showError(`Something went wrong in this page: ${sentence(event.error ?? event.message)}. Reloading the page usually helps.`));
addEventListener('unhandledrejection', (event) => showError(`Something went wrong in this page: ${sentence(event.reason)}. Reloading the page usually helps.`));

// ─── configuration and key ──────────────────────────────────────────────────────────────────────

async function loadConfig(): Promise<PageConfig> {
  const params = new URLSearchParams(location.search);
  const relay = params.get('relay');
  if (relay !== null) {
    return { relay, network: params.get('network') ?? DEFAULT_NETWORK, allowLocal: params.get('allowLocal') === '1', source: 'url' };
  }
  let response: Response;
  try {
    response = await fetch(new URL('/config.json', location.href), { cache: 'no-store', signal: AbortSignal.timeout(CONFIG_TIMEOUT_MS) });
  } catch (error) {
    throw new Error(`the relay did not answer GET /config.json (${sentence(error)}); is it still running? Reload the page to try again`);
  }
  if (!response.ok) throw new Error(`the relay answered GET /config.json with HTTP ${response.status}; reload the page in a moment`);
  const body = (await response.json()) as { relay?: unknown; network?: unknown; allowLocal?: unknown };
  if (typeof body.relay !== 'string') throw new Error('the relay’s /config.json names no relay address');
  return {
    relay: body.relay,
    network: typeof body.network === 'string' ? body.network : DEFAULT_NETWORK,
    allowLocal: body.allowLocal === true,
    source: 'server',
  };
}

/**
 * Holds a Web Lock named after the first free key slot for the page's lifetime (the browser releases
 * it when the page goes away, so a reload gets the same slot back) and returns that slot's database.
 * Without Web Locks (an insecure context) every tab shares one key.
 */
async function claimKeyStore(): Promise<string> {
  const locks = (navigator as Navigator & { locks?: LockManager }).locks;
  if (locks === undefined) return KEY_STORE_PREFIX;
  for (let slot = 0; slot < MAX_KEY_SLOTS; slot++) {
    const name = slot === 0 ? KEY_STORE_PREFIX : `${KEY_STORE_PREFIX}-${slot}`;
    const held = await new Promise<boolean>((resolve) => {
      locks
        .request(name, { ifAvailable: true }, (lock) => {
          resolve(lock !== null);
          // Keep the lock until the page is gone.
          return lock === null ? undefined : new Promise<never>(() => undefined);
        })
        .catch(() => resolve(false));
    });
    if (held) return name;
  }
  return KEY_STORE_PREFIX;
}

/** A relay restarted with a new key (as `npm start`'s is, without --home) is joined again by reloading the page. */
let checkingRelay = false;
async function reloadIfRelayChanged(current: string): Promise<void> {
  if (checkingRelay) return;
  checkingRelay = true;
  try {
    if ((await loadConfig()).relay !== current) location.reload();
  } catch {
    // The relay is not answering yet: the next failed dial asks again.
  } finally {
    checkingRelay = false;
  }
}

// ─── rendering ──────────────────────────────────────────────────────────────────────────────────

function currentGraph(): Graph {
  const sw = node;
  if (sw === undefined || topology === undefined) return { nodes: [], links: [] };
  return model.update({
    self: { id: sw.nodeId, moniker: hook.moniker ?? '' },
    peers: sw.peers.map((peer) => ({ id: peer.id, moniker: peer.nodeInfo.moniker, transport: peer.transport, listenAddresses: peer.nodeInfo.listenAddresses })),
    topology: topology.snapshot().nodes,
    relays: hook.relayId === undefined ? [] : [hook.relayId],
    now: Date.now(),
  });
}

function connectionState(): ConnectionState {
  const sw = node;
  const relayConnected = sw !== undefined && hook.relayId !== undefined && sw.getPeer(hook.relayId) !== undefined;
  const peers = sw?.peers ?? [];
  const direct = new Set(peers.map((peer) => peer.id));
  const far = (topology?.snapshot().nodes ?? []).filter((entry) => !direct.has(entry.id)).length;
  return {
    phase: hook.state,
    relayConnected,
    directPeers: peers.filter((peer) => peer.id !== hook.relayId).length,
    farNodes: far,
    everConnected: relayState.everConnected,
    retryInMs: relayState.retryAt === undefined ? undefined : Math.max(0, relayState.retryAt - Date.now()),
    problem: hook.state === 'failed' ? hook.error : relayState.problem,
  };
}

function renderStatus(): void {
  const state = connectionState();
  ui.status.textContent = describeConnection(state);
  ui.status.dataset['state'] = state.phase !== 'running' ? state.phase : state.relayConnected ? 'connected' : 'degraded';
  const relayPeer = hook.relayId === undefined ? undefined : node?.getPeer(hook.relayId);
  if (relayPeer !== undefined && relayPeer.nodeInfo.moniker !== '') ui.relayName.textContent = relayPeer.nodeInfo.moniker;
}

function renderGraph(): void {
  const graph = currentGraph();
  graphView.render(graph);
  ui.graphSummary.textContent = describeGraph(graph);
}

let renderPending: ReturnType<typeof setTimeout> | undefined;
function scheduleRender(): void {
  if (renderPending !== undefined) return;
  renderPending = setTimeout(() => {
    renderPending = undefined;
    renderStatus();
    renderGraph();
  }, RENDER_DELAY_MS);
}

function cell(text: string, header = false): HTMLTableCellElement {
  const element = document.createElement(header ? 'th' : 'td');
  if (header) element.scope = 'row';
  element.textContent = text;
  return element;
}

function statusKey(peer: Peer): string {
  return `${peer.id}@${peer.connectedAt}`;
}

function renderTraffic(): void {
  const peers = node?.peers ?? [];
  const statuses: PeerStatus[] = peers.map((peer) => peer.status());
  const sample = traffic.sample(statuses, Date.now());
  const history = traffic.history();
  renderPlot(ui.plotMessages, history, (s) => [s.messagesIn, s.messagesOut], formatCount);
  renderPlot(ui.plotBytes, history, (s) => [s.bytesIn, s.bytesOut], formatBytes);
  ui.plotMessagesCaption.textContent = `Messages per second, last minute: now ${formatCount(sample.messagesIn)} received (solid), ${formatCount(sample.messagesOut)} sent (dashed).`;
  ui.plotBytesCaption.textContent = `Bytes per second, last minute: now ${formatBytes(sample.bytesIn)}/s received (solid), ${formatBytes(sample.bytesOut)}/s sent (dashed).`;

  ui.peerRows.replaceChildren(
    ...statuses.map((status) => {
      const row = document.createElement('tr');
      const sent = status.channels.reduce((n, channel) => n + channel.sentMessages, 0);
      const received = status.channels.reduce((n, channel) => n + channel.receivedMessages, 0);
      const rtt = status.lastPingRttMs === undefined ? '–' : `${Math.round(status.lastPingRttMs)} ms`;
      row.append(
        cell(label(status.moniker, status.id) + (status.id === hook.relayId ? ', the relay' : ''), true),
        cell(`${status.transport}, ${status.direction}`),
        cell(String(sent)),
        cell(formatBytes(status.sentBytes)),
        cell(String(received)),
        cell(formatBytes(status.receivedBytes)),
        cell(rtt),
      );
      return row;
    }),
  );
  if (statuses.length === 0) {
    const row = document.createElement('tr');
    const empty = cell('No peers connected.');
    empty.colSpan = 7;
    row.append(empty);
    ui.peerRows.replaceChildren(row);
  }
  const { channels } = traffic.totals(statuses);
  ui.channelRows.replaceChildren(
    ...channels.map((channel) => {
      const row = document.createElement('tr');
      row.append(
        cell(`${channel.name === '' ? 'channel' : channel.name} (0x${channel.id.toString(16).padStart(2, '0')})`, true),
        cell(String(channel.sentMessages)),
        cell(formatBytes(channel.sentBytes)),
        cell(String(channel.receivedMessages)),
        cell(formatBytes(channel.receivedBytes)),
      );
      return row;
    }),
  );
}

function showChat(message: ChatDelivery): void {
  const entry: DemoChat = {
    id: message.id,
    text: message.text,
    origin: message.origin,
    name: message.name,
    hops: message.hops,
    from: message.from?.id ?? 'self',
    transport: message.from?.transport,
  };
  chatLog.push(entry);
  if (chatLog.length > MAX_SHOWN_CHAT) chatLog.shift();
  ui.chatLog.querySelector('.empty')?.remove();
  const item = document.createElement('li');
  item.dataset['id'] = entry.id;
  const meta = document.createElement('span');
  meta.className = 'meta';
  const author = document.createElement('span');
  author.className = 'author';
  // textContent, never innerHTML: names and texts are whatever a peer sent.
  author.textContent = entry.from === 'self' ? 'you' : label(entry.name, entry.origin);
  const from = message.from;
  const route =
    from === undefined ? ' · written in this tab'
    : ` · ${entry.hops} hop${entry.hops === 1 ? '' : 's'}${entry.hops === 1 ? `, directly over ${from.transport}` : `, last one from ${label(from.nodeInfo.moniker, from.id)} over ${from.transport}`}`;
  meta.append(author, route);
  const text = document.createElement('span');
  text.className = 'text';
  text.textContent = entry.text;
  item.append(meta, text);
  ui.chatLog.append(item);
  while (ui.chatLog.childElementCount > MAX_SHOWN_CHAT) ui.chatLog.firstElementChild?.remove();
  ui.chatLog.scrollTop = ui.chatLog.scrollHeight;
}

function onChatSubmit(event: SubmitEvent): void {
  event.preventDefault();
  const text = ui.chatInput.value.trim();
  if (text === '') {
    ui.chatFeedback.textContent = 'Type a message first.';
    return;
  }
  if (new TextEncoder().encode(text).length > MAX_CHAT_TEXT_BYTES) {
    ui.chatFeedback.textContent = `That message is too long: at most ${MAX_CHAT_TEXT_BYTES} bytes.`;
    return;
  }
  try {
    hook.sendChat(text);
    const peers = (node?.peers ?? []).length;
    ui.chatFeedback.textContent = peers === 0 ? 'Sent, but no peer is connected to receive it.' : `Sent to ${peers} peer${peers === 1 ? '' : 's'}.`;
    ui.chatInput.value = '';
  } catch (error) {
    ui.chatFeedback.textContent = `Could not send it: ${sentence(error)}.`;
  }
}

async function onBurst(): Promise<void> {
  ui.burst.disabled = true;
  ui.burstFeedback.textContent = 'Sending…';
  try {
    const { peers, sent } = await hook.burst();
    ui.burstFeedback.textContent =
      peers === 0 ? 'No peer to send to yet.' : `Sent ${sent} messages of 1 kB to ${peers} peer${peers === 1 ? '' : 's'}; watch the plots.`;
  } catch (error) {
    ui.burstFeedback.textContent = `The burst failed: ${sentence(error)}.`;
  } finally {
    ui.burst.disabled = hook.state !== 'running';
  }
}

// ─── the node ───────────────────────────────────────────────────────────────────────────────────

function watchRelay(sw: Switch, config: PageConfig, relayId: string): void {
  sw.on('peer:connected', ({ peer }) => {
    if (peer.id !== relayId) return;
    relayState.failures = 0;
    relayState.retryAt = undefined;
    relayState.everConnected = true;
    relayState.problem = undefined;
  });
  sw.on('peer:disconnected', ({ peer }) => {
    // The Switch redials a persistent peer after baseDelayMs (±jitter), then backs off on failures.
    if (peer.id === relayId && sw.isRunning) relayState.retryAt = Date.now() + RECONNECT.baseDelayMs;
  });
  sw.on('dial:failed', ({ address, error, willRetry }) => {
    if (!address.includes(relayId)) return;
    relayState.failures++;
    relayState.retryAt = willRetry ? Date.now() + Math.min(RECONNECT.maxDelayMs, RECONNECT.baseDelayMs * 2 ** relayState.failures) : undefined;
    const code = (error as { code?: string }).code;
    if (code === 'ERR_WRONG_PEER_ID') {
      relayState.problem = 'The relay was restarted with a new identity: reloading the page to join it…';
      if (config.source === 'server') void reloadIfRelayChanged(config.relay);
      else relayState.problem = 'The relay now has another identity than the one in this page’s address: ask for its new address.';
    }
    scheduleRender();
  });
}

async function main(): Promise<void> {
  const config = await loadConfig();
  let relayId: string | undefined;
  try {
    relayId = parseAddress(config.relay).nodeId;
  } catch (error) {
    throw new Error(`the relay address ${config.relay} is not valid (${sentence(error)})`);
  }
  if (relayId === undefined) throw new Error(`the relay address ${config.relay} has no node id`);
  hook.relay = config.relay;
  hook.relayId = relayId;
  ui.relay.textContent = config.relay;
  const keyStore = await claimKeyStore();
  hook.keyStore = keyStore;

  const storage = new IndexedDbStorage(keyStore);
  const identity = await loadOrCreateNodeKey(storage);
  const moniker = friendlyName(identity.nodeId);
  const sw = await createNode({
    network: config.network,
    moniker,
    identity,
    storage,
    persistentPeers: [config.relay],
    pex: { seeds: [config.relay], allowLocal: config.allowLocal, ...PAGE_PEX },
    reconnect: RECONNECT,
    connection: PAGE_CONNECTION,
  });
  const topologyAgent = new TopologyAgent({ kind: 'page', onChange: scheduleRender });
  const chatAgent = new ChatAgent({ onMessage: showChat });
  const burstAgent = new BurstAgent();
  sw.addAgent('topology', topologyAgent);
  sw.addAgent('chat', chatAgent);
  sw.addAgent('burst', burstAgent);
  sw.on('peer:connected', scheduleRender);
  sw.on('peer:disconnected', ({ peer }) => {
    // Its counters stay in the totals.
    traffic.retire(statusKey(peer), peer.status());
    scheduleRender();
  });
  watchRelay(sw, config, relayId);
  node = sw;
  topology = topologyAgent;
  chat = chatAgent;
  burst = burstAgent;
  hook.nodeId = sw.nodeId;
  hook.moniker = moniker;
  ui.nodeId.textContent = sw.nodeId;
  ui.moniker.textContent = moniker;
  document.title = `meshlink · ${moniker}`;

  await sw.start();
  hook.state = 'running';
  for (const control of [ui.chatInput, ui.chatSend, ui.burst]) control.disabled = false;
  ui.chatForm.addEventListener('submit', onChatSubmit);
  ui.burst.addEventListener('click', () => void onBurst());
  setInterval(() => {
    renderStatus();
    renderGraph();
    renderTraffic();
  }, TICK_MS);
  scheduleRender();
  renderTraffic();
  // createNode stops the node on pagehide; a page restored from the back/forward cache starts afresh.
  addEventListener('pageshow', (event) => {
    if (event.persisted) location.reload();
  });
}

main().catch((error: unknown) => {
  hook.state = 'failed';
  hook.error = sentence(error);
  renderStatus();
  showError(`This tab could not join the mesh: ${hook.error}.`);
  console.error(error);
});

