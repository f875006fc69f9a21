/**
 * Where the demo page finds its relay (the page's address, or the relay's `GET /config.json`).
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
/** The demo's key slots (claimKeySlot): each tab of one browser takes the first free one, so each is its own node. */
export const KEY_SLOT_NAME = 'meshlink-demo';

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
