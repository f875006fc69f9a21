/**
 * The demo page's node options (demo/web/app.ts), apart so that the simulation of the demo's mesh
 * (test/webrtc/page-mesh-scene.ts) builds its pages exactly as the page does.
 */

/** Come back quickly when the relay restarts: a page has nothing better to do. */
export const PAGE_RECONNECT = { baseDelayMs: 500, maxDelayMs: 5_000, jitterRatio: 0.25 };
/**
 * PEX for pages: look at the address book every second so that new tabs are dialled promptly, but ask
 * any one peer for addresses at most every 20 s (twice our minRequestIntervalMs), well clear of a
 * relay's default minimum of 10 s between requests, which a page must never trip. (A page asks its
 * relay at once when it connects, which is how it learns the tabs already there; tabs that come later
 * dial it.)
 */
export const PAGE_PEX = { ensurePeersIntervalMs: 1_000, minRequestIntervalMs: 10_000, dialJitterMs: 250 };
/** Ping each peer every 15 s (the default is a minute), so that the table shows round trips early. */
export const PAGE_CONNECTION = { pingIntervalMs: 15_000, pongTimeoutMs: 10_000 };
