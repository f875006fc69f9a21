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
import { claimKeySlot, createNode, loadOrCreateNodeKey, parseAddress, type Peer, type Switch } from '../../platforms/browser/index.js';
import { BurstAgent, DEFAULT_BURST_MESSAGES } from '../agents/burst.js';
import { ChatAgent, type ChatDelivery } from '../agents/chat.js';
import { TopologyAgent } from '../agents/topology.js';
import { sentence } from './error-sentence.js';
import { MeshModel, type Graph } from './graph-model.js';
import { friendlyName } from './names.js';
import { isRelayDial, KEY_SLOT_NAME, loadConfig, reloadIfRelayChanged, type PageConfig } from './page-config.js';
import { enableControls } from './page-controls.js';
import type { DemoChat, MeshlinkDemo } from './page-hook.js';
import { PAGE_CONNECTION, PAGE_PEX, PAGE_RECONNECT } from './page-options.js';
import { appendChat, MAX_SHOWN_CHAT, renderGraph, renderStatus, renderTraffic, showError, showIdentity, showRelay, statusText } from './page-view.js';
import type { ConnectionState } from './status-text.js';
import { TrafficMeter } from './traffic.js';

// The page's test hook types, where tests have always imported them from.
export type { DemoChat, DemoPeer, MeshlinkDemo } from './page-hook.js';

const TICK_MS = 1_000;
const RENDER_DELAY_MS = 50;

let node: Switch | undefined;
let topology: TopologyAgent | undefined;
let chat: ChatAgent | undefined;
let burst: BurstAgent | undefined;
const model = new MeshModel();
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
  statusText,
  traffic: () => traffic.history(),
};
window.meshlinkDemo = hook;

addEventListener('error', (event) => showError(`Something went wrong in this page: ${sentence(event.error ?? event.message)}. Reloading the page usually helps.`));
addEventListener('unhandledrejection', (event) => showError(`Something went wrong in this page: ${sentence(event.reason)}. Reloading the page usually helps.`));

// ─── what the view is given ─────────────────────────────────────────────────────────────────────

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

function showStatus(): void {
  const relayPeer = hook.relayId === undefined ? undefined : node?.getPeer(hook.relayId);
  renderStatus(connectionState(), relayPeer?.nodeInfo.moniker);
}

function showGraph(): void {
  renderGraph(currentGraph());
}

let renderPending: ReturnType<typeof setTimeout> | undefined;
function scheduleRender(): void {
  if (renderPending !== undefined) return;
  renderPending = setTimeout(() => {
    renderPending = undefined;
    showStatus();
    showGraph();
  }, RENDER_DELAY_MS);
}

function statusKey(peer: Peer): string {
  return `${peer.id}@${peer.connectedAt}`;
}

function showTraffic(): void {
  const statuses = (node?.peers ?? []).map((peer) => peer.status());
  const sample = traffic.sample(statuses, Date.now());
  renderTraffic({ sample, history: traffic.history(), statuses, channels: traffic.totals(statuses).channels, relayId: hook.relayId });
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
  appendChat(entry, message.from);
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
    if (peer.id === relayId && sw.isRunning) relayState.retryAt = Date.now() + PAGE_RECONNECT.baseDelayMs;
  });
  sw.on('dial:failed', ({ address, error, willRetry }) => {
    if (!isRelayDial(address, relayId)) return;
    relayState.failures++;
    relayState.retryAt = willRetry ? Date.now() + Math.min(PAGE_RECONNECT.maxDelayMs, PAGE_RECONNECT.baseDelayMs * 2 ** relayState.failures) : undefined;
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
  showRelay(config.relay);
  // The demo names its own key slots, so that its tabs never take the slots of another meshlink app on the origin.
  const slot = await claimKeySlot(KEY_SLOT_NAME);
  hook.keyStore = slot.databaseName;

  const storage = slot.storage;
  const identity = await loadOrCreateNodeKey(storage);
  const moniker = friendlyName(identity.nodeId);
  const sw = await createNode({
    network: config.network,
    moniker,
    identity,
    storage,
    persistentPeers: [config.relay],
    pex: { seeds: [config.relay], allowLocal: config.allowLocal, ...PAGE_PEX },
    reconnect: PAGE_RECONNECT,
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
  showIdentity(sw.nodeId, moniker);

  await sw.start();
  hook.state = 'running';
  enableControls(hook, () => (node?.peers ?? []).length);
  setInterval(() => {
    showStatus();
    showGraph();
    showTraffic();
  }, TICK_MS);
  scheduleRender();
  showTraffic();
  // createNode stops the node on pagehide; a page restored from the back/forward cache starts afresh.
  addEventListener('pageshow', (event) => {
    if (event.persisted) location.reload();
  });
}

main().catch((error: unknown) => {
  hook.state = 'failed';
  hook.error = sentence(error);
  showStatus();
  showError(`This tab could not join the mesh: ${hook.error}.`);
  console.error(error);
});
