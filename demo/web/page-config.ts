/**
 * Where the demo page finds its relay (the page's address, or the relay's `GET /config.json`) and which
 * key slot in IndexedDB it uses, so that each tab of one browser is a node of its own.
 */
import { parseAddress } from '../../src/index.js';
import { sentence } from './error-sentence.js';

export interface PageConfig {
  relay: string;
  network: string;
  allowLocal: boolean;
  /** 'url' when given in the page's address, 'server' when read from /config.json. */
  source: 'url' | 'server';
}

const DEFAULT_NETWORK = 'meshlink';
const CONFIG_TIMEOUT_MS = 10_000;
/** Tabs of one browser share IndexedDB: each takes the first free key slot (a Web Lock), so each is its own node. */
const MAX_KEY_SLOTS = 16;
const KEY_STORE_PREFIX = 'meshlink-demo';

export async function loadConfig(): Promise<PageConfig> {
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
export async function claimKeyStore(): Promise<string> {
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
export async function reloadIfRelayChanged(current: string): Promise<void> {
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

/**
 * Whether a failed dial was a dial of the relay itself. A WebRTC dial through the relay names it too
 * (`webrtc://<peer>?via=<relay id>`), and a peer at the other end that shows another key fails with
 * ERR_WRONG_PEER_ID: taken for the relay's own, that told the page the relay had a new identity (and
 * had it fetch /config.json) at every such dial, which any other tab could cause.
 */
export function isRelayDial(address: string, relayId: string): boolean {
  try {
    return parseAddress(address).nodeId === relayId;
  } catch {
    return false;
  }
}
