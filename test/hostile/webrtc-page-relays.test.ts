/**
 * A relay linked to the victim over WebRTC (a page relaying for other pages, one the victim dialled as
 * `webrtc://<page>?via=<relay>`, say from PEX) is counted, for the answer slots and allowances, where?
 * The Switch fixes a WebRTC peer's place (Peer.holder) at the relay it came through, and the answer rules
 * took that place as the page's own: two such pages, dialled through the server most honest offers come
 * through, took its network's 16 answer slots (and, naming a node as the sender, that node's 2 through
 * its host), so honest offers through the server went unanswered. Now such a relay counts in a network of
 * the pages introduced through that relay's network, on a host of its own.
 *
 * The server and the honest node are real TCP connections from loopback addresses of networks of their
 * own (127.3.0.1, 127.4.0.1: all of 127/8 is loopback on Linux). The pages' links to the victim are
 * in-memory links named as the WebRTC transport names them (`webrtc://<page>?via=<server>`): the rules
 * read only that name and the relay's connection. The victim answers with the harness's stub WebRTC
 * (answers that never connect, each holding its slot for the accept timeout).
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { generateNodeKey, type NodeKey } from '../../src/crypto/keys.js';
import { BaseAgent } from '../../src/switch/agent.js';
import type { Peer } from '../../src/switch/peer.js';
import type { Link } from '../../src/transport/link.js';
import { createMemoryLinkPair } from '../../src/transport/memory.js';
import type { Transport } from '../../src/transport/transport.js';
import { SIGNAL_CHANNEL_ID } from '../../src/webrtc/constants.js';
import { SignalAgent } from '../../src/webrtc/signal-agent.js';
import { encodeSignalMessage, type SignalData } from '../../src/webrtc/signal-messages.js';
import { WebRtcTransport } from '../../src/webrtc/webrtc-transport.js';
import { tcpTransport } from '../../platforms/node/tcp.js';
import { startNode, stopAll, type TestNode } from '../helpers/nodes.js';
import { waitFor } from '../helpers/wait.js';
import { sleep, StubRtc } from './harness.js';

const timers = new Set<ReturnType<typeof setInterval>>();

afterEach(async () => {
  for (const timer of timers) clearInterval(timer);
  timers.clear();
  await stopAll();
});

const FLOOD_EVERY_MS = 250;

/**
 * Offers to every peer that connects: 8 from made-up senders every FLOOD_EVERY_MS, or once one said to be
 * `claimedSender`'s (answered, it holds its slot for the accept timeout; sent again, it would fail the
 * answer as a second description, and free the slot).
 */
class FloodingPage extends BaseAgent {
  readonly channels = new SignalAgent({ ratePerSecond: 200, burstMessages: 1000 }).channels;
  constructor(private readonly claimedSender?: string) {
    super();
  }
  override addPeer(peer: Peer): void {
    const offer = (from: string): boolean => peer.trySend(SIGNAL_CHANNEL_ID, encodeSignalMessage({ type: 'signal', from, to: peer.id, data: { type: 'offer', sdp: 'v=0 stub' } }));
    if (this.claimedSender !== undefined) {
      offer(this.claimedSender);
      return;
    }
    const round = (): void => {
      for (let i = 0; i < 8; i++) offer(randomBytes(20).toString('hex'));
    };
    round();
    const timer = setInterval(round, FLOOD_EVERY_MS);
    timers.add(timer);
  }
  receive(): void {}
}

interface Scene {
  victim: TestNode;
  rtc: WebRtcTransport;
  server: TestNode;
  /** Pages by id, each listening for the victim's dial. */
  pages: Map<string, (link: Link) => void>;
}

/**
 * The victim: TCP, and a `webrtc` transport whose dials open in-memory links to the pages while offers
 * reach the stub-backed WebRtcTransport; connected to the honest server on 127.3.0.1.
 */
async function startScene(): Promise<Scene> {
  const stub = new StubRtc();
  const rtc = new WebRtcTransport({ createPeer: stub.factory });
  const pages = new Map<string, (link: Link) => void>();
  const key = generateNodeKey();
  const webrtc: Transport = {
    protocols: ['webrtc'],
    dial: (address) => {
      const page = pages.get(address.nodeId!)!;
      const via = address.params['via'];
      const [atVictim, atPage] = createMemoryLinkPair({ names: [`webrtc://${address.nodeId}?via=${via}`, `webrtc://${key.nodeId}?via=${via}`], transport: 'webrtc' });
      page(atPage);
      return Promise.resolve(atVictim);
    },
    listen: (address, onLink) => rtc.listen(address, onLink),
  };
  const victim = await startNode({ identity: key, transports: [tcpTransport(), webrtc], listen: ['tcp://127.0.0.1:0', `webrtc://${key.nodeId}`], agents: { signal: rtc.signalAgent } });
  const server = await startNode({ listen: ['tcp://127.3.0.1:0'], agents: { signal: new SignalAgent() } });
  await victim.sw.dial(server.address);
  return { victim, rtc, server, pages };
}

/** A flooding page the victim dials through the server (as PEX might have it); its id. */
async function dialFloodingPage(scene: Scene, claimedSender?: string): Promise<string> {
  const key = generateNodeKey();
  let accept: ((link: Link) => void) | undefined;
  const pageSide: Transport = {
    protocols: ['webrtc'],
    dial: () => Promise.reject(new Error('not used')),
    listen: (address, onLink) => {
      accept = onLink;
      return Promise.resolve({ addresses: [address], close: () => Promise.resolve() });
    },
  };
  await startNode({ identity: key, transports: [pageSide], listen: [`webrtc://${key.nodeId}`], agents: { signal: new FloodingPage(claimedSender) } });
  scene.pages.set(key.nodeId, (link) => accept!(link));
  await scene.victim.sw.dial(`webrtc://${key.nodeId}?via=${scene.server.key.nodeId}`);
  return key.nodeId;
}

/** An honest node on 127.4.0.1 offering the victim through the server; what it heard back. */
async function honestOffer(scene: Scene, identity: NodeKey = generateNodeKey()): Promise<SignalData[]> {
  const victimId = scene.victim.key.nodeId;
  const heard: SignalData[] = [];
  const negotiatingWithVictim = (_via: string, from: string): boolean => from === victimId;
  const agent = new SignalAgent({ relay: false, onSignal: ({ from, data }) => void (from === victimId && heard.push(data)), isNegotiating: negotiatingWithVictim, inNegotiation: negotiatingWithVictim });
  const honest = await startNode({ identity, listen: ['tcp://127.4.0.1:0'], agents: { signal: agent } });
  await honest.sw.dial(scene.server.address);
  expect(agent.sendSignal(scene.server.key.nodeId, victimId, { type: 'offer', sdp: 'v=0 honest' }), 'the honest offer sent').toBe(true);
  await waitFor(() => heard.some((data) => data.type === 'answer'), 3000, "the victim's answer to the honest offer").catch(() => undefined);
  return heard;
}

function heldBy(rtc: WebRtcTransport, vias: readonly string[]): number {
  return vias.reduce((sum, id) => sum + (rtc.pendingAcceptCounts().byVia.get(id) ?? 0), 0);
}

describe('pages the victim dialled through a server, relaying offers that never complete', () => {
  it("from made-up senders take no answer slot of the server's network: an honest offer through the server is answered", async () => {
    const scene = await startScene();
    const pages = [await dialFloodingPage(scene), await dialFloodingPage(scene)];
    await waitFor(() => heldBy(scene.rtc, pages) >= 16, 5000, 'the pages hold their 8 each');
    await sleep(500);
    const heard = await honestOffer(scene);
    const counts = scene.rtc.pendingAcceptCounts();
    console.log(`pages hold ${heldBy(scene.rtc, pages)} answer slots; by network: ${JSON.stringify([...counts.byGroup])}; the honest offer through the server answered: ${heard.length > 0}`);
    // Before: the pages held 16 in the server's network (ipv4:127.3), its cap, and the honest offer went unanswered.
    expect(heard.map((data) => data.type), "the victim's answer reached the honest node").toContain('answer');
    expect(counts.byVia.get(scene.server.key.nodeId)).toBe(1);
    expect(counts.byGroup.get('ipv4:127.3')).toBe(1);
    expect(counts.byGroup.get('ipv4:127.3 webrtc')).toBe(16);
  }, 20_000);

  it("naming an honest node as the sender hold none of its 2 slots through the server's host", async () => {
    const scene = await startScene();
    const honestKey = generateNodeKey();
    const pages = [await dialFloodingPage(scene, honestKey.nodeId), await dialFloodingPage(scene, honestKey.nodeId)];
    await waitFor(() => heldBy(scene.rtc, pages) >= 2, 5000, 'the offers naming the honest node answered');
    await sleep(500);
    const heard = await honestOffer(scene, honestKey);
    const counts = scene.rtc.pendingAcceptCounts();
    console.log(`pages hold ${heldBy(scene.rtc, pages)} slots naming the honest node; through the server: ${counts.byVia.get(scene.server.key.nodeId) ?? 0}`);
    // Before: the pages counted on the server's host (127.3.0.1) held both of the node's slots there: no answer.
    expect(heard.map((data) => data.type), "the victim's answer reached the honest node").toContain('answer');
    expect(counts.byVia.get(scene.server.key.nodeId)).toBe(1);
    expect(counts.byRemote.get(honestKey.nodeId)).toBe(3);
  }, 20_000);
});
