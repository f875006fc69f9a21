/**
 * The browser demo page (demo/web/index.html): a meshlink node in the page, connected to the relay that
 * serves it, running the same MempoolAgent as the Node nodes. The build (platforms/browser/build.mjs)
 * bundles this file into dist/demo-web/app.js and makes its SDK imports load the shipped bundle,
 * dist/browser/meshlink.js.
 *
 * The relay address comes from `?relay=ws://<id>@host:port/` (with `&network=`) or else from the
 * relay's `GET /config.json`. `window.meshlinkDemo` is a small hook for tests and the console.
 */
import { createNode, IndexedDbStorage, type Peer, type Switch } from '../../platforms/browser/index.js';
import { MAX_TX_BYTES, MempoolAgent, MempoolCh } from '../agents/mempool.js';

export interface DemoPeer {
  id: string;
  moniker: string;
  transport: string;
  direction: string;
  /** Messages received from this peer on the mempool channel (wire level, before de-duplication). */
  mempoolMessages: number;
}

export interface DemoTx {
  text: string;
  hash: string;
  /** 'self' for a tx added on this page, else the id of the peer it came from. */
  from: string;
}

export interface MeshlinkDemo {
  state: 'starting' | 'running' | 'failed';
  error: string | undefined;
  nodeId: string | undefined;
  relay: string | undefined;
  /** The IndexedDB database holding this page's key. */
  keyStore: string | undefined;
  peers(): DemoPeer[];
  txs(): DemoTx[];
  /** Originates a tx; false if this node already had it. Throws before the node runs or for a bad tx. */
  addTx(text: string): boolean;
}

declare global {
  interface Window {
    meshlinkDemo?: MeshlinkDemo;
  }
}

interface PageConfig {
  relay: string;
  network: string;
  /** 'url' when given in the page's address, 'server' when read from /config.json. */
  source: 'url' | 'server';
}

const DEFAULT_NETWORK = 'meshlink';
const CONFIG_TIMEOUT_MS = 10_000;
/** Txs kept for the list and the hook; the mempool itself remembers many more hashes. */
const MAX_SHOWN_TXS = 500;
/** Tabs of one browser share IndexedDB: each takes the first free key slot (a Web Lock), so each is its own node. */
const MAX_KEY_SLOTS = 16;
const KEY_STORE_PREFIX = 'meshlink-demo';

const $ = <T extends HTMLElement>(id: string): T => {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`#${id} is missing from the page`);
  return element as T;
};

const ui = {
  nodeId: $('node-id'),
  relay: $('relay'),
  status: $('status'),
  peerCount: $('peer-count'),
  peers: $<HTMLUListElement>('peers'),
  form: $<HTMLFormElement>('tx-form'),
  input: $<HTMLInputElement>('tx-input'),
  submit: $<HTMLButtonElement>('tx-submit'),
  feedback: $('tx-feedback'),
  txs: $<HTMLOListElement>('txs'),
};

const txs: DemoTx[] = [];
let node: Switch | undefined;
let mempool: MempoolAgent | undefined;

const hook: MeshlinkDemo = {
  state: 'starting',
  error: undefined,
  nodeId: undefined,
  relay: undefined,
  keyStore: undefined,
  peers: () =>
    (node?.peers ?? []).map((peer) => ({
      id: peer.id,
      moniker: peer.nodeInfo.moniker,
      transport: peer.transport,
      direction: peer.direction,
      mempoolMessages: peer.status().channels.find((channel) => channel.id === MempoolCh)?.receivedMessages ?? 0,
    })),
  txs: () => txs.map((tx) => ({ ...tx })),
  addTx: (text) => {
    if (mempool === undefined || hook.state !== 'running') throw new Error('the node is not running');
    return mempool.addTx(new TextEncoder().encode(text));
  },
};
window.meshlinkDemo = hook;

function setStatus(state: string, text: string): void {
  ui.status.dataset['state'] = state;
  ui.status.textContent = text;
}

function short(id: string): string {
  return `${id.slice(0, 8)}…`;
}

async function loadConfig(): Promise<PageConfig> {
  const params = new URLSearchParams(location.search);
  const relay = params.get('relay');
  if (relay !== null) return { relay, network: params.get('network') ?? DEFAULT_NETWORK, source: 'url' };
  const response = await fetch(new URL('/config.json', location.href), { cache: 'no-store', signal: AbortSignal.timeout(CONFIG_TIMEOUT_MS) });
  if (!response.ok) throw new Error(`GET /config.json answered ${response.status}`);
  const body = (await response.json()) as Partial<PageConfig>;
  if (typeof body.relay !== 'string') throw new Error('GET /config.json has no relay address');
  return { relay: body.relay, network: typeof body.network === 'string' ? body.network : DEFAULT_NETWORK, source: 'server' };
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

function renderPeers(): void {
  const peers = node?.peers ?? [];
  ui.peerCount.textContent = String(peers.length);
  ui.peers.replaceChildren(
    ...peers.map((peer: Peer) => {
      const item = document.createElement('li');
      const id = document.createElement('code');
      id.textContent = peer.id;
      item.append(id, ` ${peer.transport}, ${peer.direction}${peer.nodeInfo.moniker === '' ? '' : `, “${peer.nodeInfo.moniker}”`}`);
      return item;
    }),
  );
  if (hook.state === 'running') {
    if (peers.length > 0) setStatus('connected', `connected (${peers.length} peer${peers.length === 1 ? '' : 's'})`);
    else setStatus('disconnected', 'not connected: retrying…');
  }
}

function showTx(tx: DemoTx): void {
  txs.push(tx);
  if (txs.length > MAX_SHOWN_TXS) txs.shift();
  const item = document.createElement('li');
  const text = document.createElement('span');
  text.className = 'text';
  // textContent, never innerHTML: a tx is whatever a peer sent.
  text.textContent = tx.text;
  const from = document.createElement('span');
  from.className = 'from';
  // A tx does not say who originated it: this is the neighbour it arrived from (the relay, here).
  from.textContent = tx.from === 'self' ? ' (added here)' : ` (via ${short(tx.from)})`;
  item.append(text, from);
  ui.txs.append(item);
  while (ui.txs.childElementCount > MAX_SHOWN_TXS) ui.txs.firstElementChild?.remove();
}

function onSubmit(event: SubmitEvent): void {
  event.preventDefault();
  const text = ui.input.value.trim();
  if (text === '') return;
  if (new TextEncoder().encode(text).length > MAX_TX_BYTES) {
    ui.feedback.textContent = 'Too long.';
    return;
  }
  try {
    ui.feedback.textContent = hook.addTx(text) ? '' : 'This node already has that transaction.';
    ui.input.value = '';
  } catch (error) {
    ui.feedback.textContent = `Could not add it: ${(error as Error).message}`;
  }
}

/** A relay restarted with a new key (as `npm start`'s does) is joined again by reloading the page. */
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

async function main(): Promise<void> {
  const config = await loadConfig();
  hook.relay = config.relay;
  ui.relay.textContent = config.relay;
  const keyStore = await claimKeyStore();
  hook.keyStore = keyStore;

  const sw = await createNode({
    network: config.network,
    moniker: 'browser',
    storage: new IndexedDbStorage(keyStore),
    persistentPeers: [config.relay],
    // Come back quickly when the relay restarts; a page has nothing better to do.
    reconnect: { baseDelayMs: 500, maxDelayMs: 5_000 },
  });
  const agent = new MempoolAgent({
    onTx: (tx, { hash, from }) => showTx({ text: new TextDecoder().decode(tx), hash, from: from?.id ?? 'self' }),
  });
  sw.addAgent('mempool', agent);
  sw.on('peer:connected', renderPeers);
  sw.on('peer:disconnected', renderPeers);
  sw.on('dial:failed', ({ error }) => {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_WRONG_PEER_ID') {
      setStatus('failed', 'The relay has a new identity: reload the page.');
      if (config.source === 'server') void reloadIfRelayChanged(config.relay);
    } else {
      setStatus('disconnected', `cannot reach the relay (${code ?? error.message}): retrying…`);
    }
  });
  node = sw;
  mempool = agent;
  hook.nodeId = sw.nodeId;
  ui.nodeId.textContent = sw.nodeId;
  document.title = `meshlink ${short(sw.nodeId)}`;

  await sw.start();
  hook.state = 'running';
  setStatus('disconnected', 'connecting to the relay…');
  renderPeers();
  ui.input.disabled = false;
  ui.submit.disabled = false;
  ui.form.addEventListener('submit', onSubmit);
  // Say goodbye to the relay instead of leaving it to notice a dead socket.
  addEventListener('pagehide', () => void sw.stop());
  // A page restored from the back/forward cache has a stopped node: start afresh.
  addEventListener('pageshow', (event) => {
    if (event.persisted) location.reload();
  });
}

main().catch((error: unknown) => {
  hook.state = 'failed';
  hook.error = (error as Error).message ?? String(error);
  setStatus('failed', `failed: ${hook.error}`);
  console.error(error);
});
