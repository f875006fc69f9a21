import { afterEach, describe, expect, it } from 'vitest';
import { createNode, MemoryStorage, type Switch } from '../../platforms/node/index.js';
import { generateNodeKey } from '../../src/crypto/keys.js';
import type { Agent } from '../../src/switch/agent.js';
import { startSilenceableProxy, type SilenceableProxy } from '../helpers/silenceable-proxy.js';
import { waitFor } from '../helpers/wait.js';

const running: Switch[] = [];
const proxies: SilenceableProxy[] = [];
afterEach(async () => {
  for (const proxy of proxies.splice(0)) proxy.close();
  await Promise.all(running.splice(0).map((sw) => sw.stop()));
});

const portOf = (address: string): number => Number(/:(\d+)\/?$/.exec(address)![1]);

async function start(options: Parameters<typeof createNode>[0], agent?: Agent): Promise<Switch> {
  const sw = await createNode({ storage: new MemoryStorage(), network: 'silent-rtc', listen: ['tcp://127.0.0.1:0'], ...options });
  if (agent !== undefined) sw.addAgent('order', agent);
  await sw.start();
  running.push(sw);
  return sw;
}

describe('a key that comes back over WebRTC while we hold its silent connection', () => {
  it('answers its offer: the Switch probes the old connection and takes the new one', async () => {
    const hub = await start({ relay: true });
    // What the holder's agents hear of peers other than the relay, in order.
    const told: string[] = [];
    const order: Agent = {
      channels: [],
      addPeer: (peer) => void (peer.id !== hub.nodeId && told.push(`added ${peer.transport}`)),
      removePeer: (peer) => void (peer.id !== hub.nodeId && told.push(`removed ${peer.transport}`)),
      receive: () => undefined,
    };
    // The node that still holds the silent connection; its keep-alive alone would take a minute.
    const holder = await start({ webrtc: true, persistentPeers: [hub.addresses[0]!], connection: { pingIntervalMs: 60_000, pongTimeoutMs: 1_000 } }, order);
    const page = await start({ identity: generateNodeKey(), webrtc: true, persistentPeers: [hub.addresses[0]!], reconnect: { baseDelayMs: 60_000, maxDelayMs: 60_000 } });
    await waitFor(() => hub.getPeer(holder.nodeId) !== undefined && hub.getPeer(page.nodeId) !== undefined, 5000, 'both on the relay');

    // First over TCP through a path that then goes dead (a page whose network changed).
    const proxy = await startSilenceableProxy(portOf(holder.addresses[0]!));
    proxies.push(proxy);
    await page.dial(`tcp://${holder.nodeId}@127.0.0.1:${proxy.port}`);
    await waitFor(() => holder.getPeer(page.nodeId) !== undefined, 5000, 'the first connection');
    const old = holder.getPeer(page.nodeId)!;
    proxy.silence();
    await waitFor(() => page.getPeer(holder.nodeId) === undefined, 5000, 'the page to see its connection end');
    expect(holder.getPeer(page.nodeId)).toBe(old);

    // Back through the relay over WebRTC. Before: the holder ignored every offer from a key it is
    // connected to (no answer, the page's dial timed out) until its keep-alive cut the old one.
    const startedAt = performance.now();
    const peer = await page.dial(`webrtc://${holder.nodeId}?via=${hub.nodeId}`, { signal: AbortSignal.timeout(10_000) });
    const tookMs = performance.now() - startedAt;
    expect(peer.transport).toBe('webrtc');
    await waitFor(() => holder.getPeer(page.nodeId)?.transport === 'webrtc', 5000, 'the holder to take the new link');
    expect(old.isConnected).toBe(false);
    console.log(`back over WebRTC in ${Math.round(tookMs)} ms`);
    expect(tookMs).toBeLessThan(8_000);
    // Told of the old one's departure before the new one's arrival: no agent holds two Peers for one key.
    expect(told).toEqual(['added tcp', 'removed tcp', 'added webrtc']);
  }, 30_000);
});
