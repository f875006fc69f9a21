/**
 * The WebRTC rows, Node↔Node with @roamhq/wrtc, both ends in this process (a data channel has no
 * address a child process could be handed; wrtc's network thread runs beside ours either way):
 *
 * - bare-webrtc, the baseline: two SimplePeer instances signalled directly (each one's 'signal' fed to
 *   the other's `signal()`), ONE `peer.send()` per benchmark message (64 KiB messages go as they are,
 *   not split). simple-peer's `send()` ignores backpressure and `bufferedamountlow` never fires under
 *   wrtc, so after a send that leaves more than the SDK's high-water mark (1 MiB) in the data channel
 *   the sender polls `bufferSize` every 5 ms until it is under half of it: the SDK's own constants.
 * - meshlink-webrtc: two `createNode({ webrtc: true })` Switches and a relay Switch (`relay: true`, TCP)
 *   for signalling; both dial the relay, then the sender dials `webrtc://<receiver>?via=<relay>` and the
 *   secure handshake runs over the data channel. The relay carries no benchmark traffic.
 */
import SimplePeer from 'simple-peer';
import { createNode, loadWrtc } from '../platforms/node/index.js';
import { generateNodeKey } from '../src/crypto/keys.js';
import { MemoryStorage } from '../src/storage/storage.js';
import type { Switch } from '../src/switch/switch.js';
import { WEBRTC_DRAIN_POLL_MS, WEBRTC_HIGH_WATER_MARK_BYTES } from '../src/webrtc/constants.js';
import { BENCH_CHANNEL_ID, Sink } from './common.js';
import { sendOnPeer, startNodeWithAgent, type ReceiverHandle, type SenderPort } from './transports.js';

const CONNECT_TIMEOUT_MS = 20 * 1000;

export interface InProcessPair {
  receiver: ReceiverHandle;
  sender: SenderPort;
}

function deadline<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not happen within ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS);
    }),
  ]).finally(() => clearTimeout(timer));
}

async function until(condition: () => boolean, what: string): Promise<void> {
  await deadline(
    (async () => {
      while (!condition()) await new Promise((resolve) => setTimeout(resolve, 10));
    })(),
    what,
  );
}

// ─── bare simple-peer ────────────────────────────────────────────────────────────────────────────

/** Resolves once `peer.bufferSize` is under half the high-water mark (polled: no reliable event). */
function drained(peer: SimplePeer.Instance): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const check = (): void => {
      if (peer.destroyed) resolve(false);
      else if (peer.bufferSize < WEBRTC_HIGH_WATER_MARK_BYTES / 2) resolve(true);
      else setTimeout(check, WEBRTC_DRAIN_POLL_MS);
    };
    setTimeout(check, WEBRTC_DRAIN_POLL_MS);
  });
}

export async function startBareWebRtcPair(): Promise<InProcessPair> {
  const wrtc = loadWrtc() as SimplePeer.Options['wrtc'];
  const offerer = new SimplePeer({ initiator: true, wrtc, trickle: true });
  const answerer = new SimplePeer({ initiator: false, wrtc, trickle: true });
  const peers = [offerer, answerer];
  offerer.on('signal', (data) => answerer.signal(data));
  answerer.on('signal', (data) => offerer.signal(data));
  const sink = new Sink();
  // simple-peer hands out each data channel message as one Buffer.
  answerer.on('data', (chunk: Uint8Array) => sink.onMessage(chunk, (answer) => answerer.send(answer)));
  const sender: SenderPort = {
    send(message) {
      offerer.send(message);
      return offerer.bufferSize <= WEBRTC_HIGH_WATER_MARK_BYTES ? true : drained(offerer);
    },
    onReply: () => undefined,
    close: async () => {
      for (const peer of peers) peer.destroy();
    },
  };
  offerer.on('data', (chunk: Uint8Array) => sender.onReply(chunk));
  const failed = new Promise<never>((_, reject) => {
    for (const peer of peers) peer.once('error', (error: Error) => reject(new Error(`bare-webrtc: ${error.message}`)));
  });
  try {
    await deadline(Promise.race([Promise.all(peers.map((peer) => new Promise<void>((resolve) => peer.once('connect', () => resolve())))), failed]), 'bare-webrtc connect');
  } catch (error) {
    for (const peer of peers) peer.destroy();
    throw error;
  }
  failed.catch(() => undefined);
  for (const peer of peers) peer.on('error', () => undefined);
  return {
    receiver: { ready: { address: 'in-process simple-peer pair' }, setMode: async (mode) => sink.setMode(mode), stop: sender.close },
    sender,
  };
}

// ─── meshlink over WebRTC, signalled through a relay ────────────────────────────────────────────

export async function startMeshlinkWebRtcPair(): Promise<InProcessPair> {
  const started: Switch[] = [];
  const stopAll = async (): Promise<void> => {
    await Promise.all(started.splice(0).map((sw) => sw.stop()));
  };
  try {
    const relay = await createNode({ identity: generateNodeKey(), storage: new MemoryStorage(), network: 'bench', listen: ['tcp://127.0.0.1:0'], relay: true });
    started.push(relay);
    await relay.start();
    const relayAddress = relay.addresses[0]!;
    const receiving = await startNodeWithAgent(undefined, [], { webrtc: true });
    started.push(receiving.sw);
    const sending = await startNodeWithAgent(undefined, [], { webrtc: true });
    started.push(sending.sw);
    await Promise.all([receiving.sw.dial(relayAddress), sending.sw.dial(relayAddress)]);
    await until(() => relay.getPeer(receiving.sw.nodeId) !== undefined && relay.getPeer(sending.sw.nodeId) !== undefined, 'both peers on the relay');
    const address = `webrtc://${receiving.sw.nodeId}?via=${relay.nodeId}`;
    const peer = await deadline(sending.sw.dial(address), `dial ${address}`);
    if (peer.transport !== 'webrtc') throw new Error(`meshlink-webrtc: the link to the receiver is over ${peer.transport}, not webrtc`);
    const sink = new Sink();
    receiving.agent.onMessage = (from, message) => sink.onMessage(message, (answer) => void from.trySend(BENCH_CHANNEL_ID, answer));
    const sender: SenderPort = {
      send: (message) => sendOnPeer(peer, message),
      onReply: () => undefined,
      close: stopAll,
    };
    sending.agent.onMessage = (_from, message) => sender.onReply(message);
    return {
      receiver: { ready: { address }, setMode: async (mode) => sink.setMode(mode), stop: stopAll },
      sender,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
