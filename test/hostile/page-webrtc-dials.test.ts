/**
 * A page's own WebRTC dials each open an RTCPeerConnection, and a browser refuses its 501st until
 * garbage collection frees closed ones. The pending-dial caps (16, 8 per relay) bound how many are open
 * at once, but a dial that fails at once (the relay answers `unreachable`) frees its slot at once. A
 * relay whose PEX answers name made-up nodes `webrtc://<id>?via=<peer>` through each of the page's
 * peers (here 8 accomplices that dialled the page) makes the page's PEX dial through every one of them
 * each round. The page here is a Switch with the browser's PEX settings (demo/web/app.ts) over memory
 * links; its RTCPeerConnections are stand-ins that offer at once and never connect, counted as made.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { generateNodeKey } from '../../src/crypto/keys.js';
import { PEXAgent } from '../../src/pex/pex-agent.js';
import { PEX_CHANNEL_ID, PEX_MAX_MESSAGE_BYTES } from '../../src/pex/constants.js';
import { decodePexMessage, encodePexMessage } from '../../src/pex/pex-messages.js';
import { BaseAgent } from '../../src/switch/agent.js';
import type { Peer } from '../../src/switch/peer.js';
import { Switch } from '../../src/switch/switch.js';
import { MemoryNetwork } from '../../src/transport/memory.js';
import { SignalAgent } from '../../src/webrtc/signal-agent.js';
import { WebRtcTransport } from '../../src/webrtc/webrtc-transport.js';
import { node, offeringPeer, SilentPeer, stopNodes } from '../webrtc/signalling-scene.js';

const ACCOMPLICES = 8;
const started: Switch[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((sw) => sw.stop()));
  await stopNodes();
});

/** A relay's PEX answering every request with 100 made-up webrtc addresses through each of `vias`. */
class MadeUpWebRtcPex extends BaseAgent {
  readonly channels = [{ id: PEX_CHANNEL_ID, priority: 1, recvMessageCapacity: PEX_MAX_MESSAGE_BYTES }];
  vias: string[] = [];
  receive(_channelId: number, peer: Peer, bytes: Uint8Array): void {
    if (decodePexMessage(bytes).type !== 'pexRequest') return;
    const addresses = Array.from({ length: 100 }, (_, i) => `webrtc://${generateNodeKey().nodeId}?via=${this.vias[i % this.vias.length]}`);
    peer.trySend(PEX_CHANNEL_ID, encodePexMessage({ type: 'pexResponse', addresses }));
  }
}

async function start(sw: Switch): Promise<Switch> {
  await sw.start();
  started.push(sw);
  return sw;
}

/** A page with the browser's PEX settings whose relay hands it made-up addresses through it and 8 accomplices. */
async function attackedPage(): Promise<{ network: MemoryNetwork; page: Switch; relay: Switch }> {
  const network = new MemoryNetwork();
  const relayPex = new MadeUpWebRtcPex();
  const relay = new Switch({ identity: generateNodeKey(), network: 'signal-rules', transports: [network.transport()], listen: ['memory://relay'] });
  relay.addAgent('signal', new SignalAgent()).addAgent('pex', relayPex);
  await start(relay);
  const key = generateNodeKey();
  const rtc = new WebRtcTransport({ createPeer: ({ initiator }) => offeringPeer(initiator) });
  const page = new Switch({ identity: key, network: 'signal-rules', transports: [network.transport(), rtc], listen: ['memory://page', `webrtc://${key.nodeId}`] });
  page.addAgent('signal', rtc.signalAgent);
  page.addAgent('pex', new PEXAgent({ seeds: [relay.addresses[0]!], allowLocal: true, ensurePeersIntervalMs: 1_000, minRequestIntervalMs: 10_000, dialJitterMs: 250 }));
  await start(page);
  // Accomplices that dialled the page: each answers `unreachable` to what it is asked to pass on.
  const accomplices: Switch[] = [];
  for (let i = 0; i < ACCOMPLICES; i++) accomplices.push(await node(network, `accomplice-${i}`, new SignalAgent()));
  for (const accomplice of accomplices) await accomplice.dial(page.addresses.find((address) => address.startsWith('memory://'))!);
  relayPex.vias = [relay.nodeId, ...accomplices.map((accomplice) => accomplice.nodeId)];
  return { network, page, relay };
}

describe('peers handing a page made-up webrtc addresses through each of its peers', () => {
  it('make its dials open at most a burst of RTCPeerConnections, then one a second', async () => {
    const { page, relay } = await attackedPage();
    const made = SilentPeer.created;
    await page.dial(relay.addresses[0]!);

    const seconds = 8;
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    // Before: 79 in 8 s (99 in 10 s: ~10 a second, 600 a minute, for as long as they liked).
    // Now a burst of 16, then 60 a minute.
    expect(SilentPeer.created - made).toBeLessThanOrEqual(16 + seconds + 2);
    expect(page.getPeer(relay.nodeId)?.isConnected).toBe(true);
  }, 20_000);

  it('leave the app a share of the allowance for its dial through another relay', async () => {
    const { network, page, relay } = await attackedPage();
    const honestRelay = await node(network, 'honest-relay', new SignalAgent());
    await page.dial(honestRelay.addresses[0]!);
    await page.dial(relay.addresses[0]!);
    // Nine relays dialled through (the relay and its 8 accomplices), each a network of its own here:
    // the allowance is split in ten, the tenth held for relays new to it. The nine's first dials spend
    // that share in the first seconds; it earns 6 a minute (one in 10 s) after the last of them.
    await new Promise((resolve) => setTimeout(resolve, 16_000));
    const error = await page.dial(`webrtc://${generateNodeKey().nodeId}?via=${honestRelay.nodeId}`).catch((e: unknown) => e as { detail?: { reason?: string } });
    // Before: refused at once (`dial-allowance`): the nine took each connection as the total earned it.
    // Now an offer is made and the honest relay answers that it knows no such node.
    expect((error as { detail?: { reason?: string } }).detail?.reason).toBe('unreachable');
  }, 30_000);
});
