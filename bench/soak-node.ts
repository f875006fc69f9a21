/**
 * One node of the soak mesh, run as its own process (so a kill is a real SIGKILL and its heap is its
 * own): a Switch on real TCP with persistent neighbours, and an agent that sends sequence-numbered
 * messages to every connected peer at a steady rate and checks what it receives. It reports its
 * records and memory to the parent over IPC, and everything once more after a graceful stop.
 *
 * Usage (by bench/soak-run.ts only): node --import tsx bench/soak-node.ts '<SoakNodeConfig JSON>'
 */
import { randomBytes } from 'node:crypto';
import { nodeKeyFromSecret } from '../src/crypto/keys.js';
import { ClosedError } from '../src/errors.js';
import type { Agent } from '../src/switch/agent.js';
import type { Peer } from '../src/switch/peer.js';
import { Switch } from '../src/switch/switch.js';
import { nodeChaCha20Poly1305 } from '../platforms/node/aead.js';
import { nodeHandshakeCrypto } from '../platforms/node/handshake-crypto.js';
import { tcpTransport } from '../platforms/node/tcp.js';
import {
  decodeSoakMessage,
  encodeSoakMessage,
  parseSoakMoniker,
  SOAK_CHANNEL_ID,
  SOAK_CHANNELS,
  SOAK_NETWORK,
  soakMoniker,
  type FromSoakNode,
  type MemorySample,
  type ReceiverRecord,
  type SenderRecord,
  type SessionEnd,
  type SoakNodeConfig,
  type ToSoakNode,
} from './soak-protocol.js';

/** A send() that waits longer than this gives up; the same seq is offered again on a later tick. */
const SEND_TIMEOUT_MS = 2000;
/** Longest wait, when quiescing, for accepted messages to leave the queues. */
const QUIESCE_TIMEOUT_MS = 5000;

interface OutgoingSession {
  peer: Peer;
  nonce: Uint8Array;
  record: SenderRecord;
  /** One send() in flight per session at a time, so messages are accepted strictly in seq order. */
  busy: boolean;
}

function endOf(reason: Error | undefined): { end: SessionEnd; endReason?: string; endedAtMs: number } {
  // A ClosedError is a clean close by either end; a SIGKILLed remote also looks like one from here,
  // which is why the parent, who did the killing and knows when the graceful stop began, classifies.
  const endedAtMs = Date.now();
  if (reason === undefined || reason instanceof ClosedError) return { end: 'graceful', endReason: reason?.message, endedAtMs };
  return { end: 'error', endReason: `${reason.name}: ${reason.message}`, endedAtMs };
}

class SoakTrafficAgent implements Agent {
  readonly channels = SOAK_CHANNELS;
  readonly senders: SenderRecord[] = [];
  readonly receivers = new Map<string, ReceiverRecord>();
  malformed = 0;
  private readonly outgoing = new Map<Peer, OutgoingSession>();
  private readonly receivedFrom = new Map<Peer, ReceiverRecord[]>();
  private readonly dirtySenders = new Set<SenderRecord>();
  private readonly dirtyReceivers = new Set<ReceiverRecord>();

  constructor(private readonly config: SoakNodeConfig) {}

  addPeer(peer: Peer): void {
    const remote = parseSoakMoniker(peer.nodeInfo.moniker);
    if (remote === undefined) return; // not a soak node: nothing to account for
    const nonce = randomBytes(8);
    const record: SenderRecord = {
      nonce: nonce.toString('hex'),
      senderSlot: this.config.slot,
      senderIncarnation: this.config.incarnation,
      receiverSlot: remote.slot,
      receiverIncarnation: remote.incarnation,
      sent: 0,
      end: 'open',
    };
    this.senders.push(record);
    this.dirtySenders.add(record);
    this.outgoing.set(peer, { peer, nonce, record, busy: false });
  }

  removePeer(peer: Peer, reason: Error | undefined): void {
    const ended = endOf(reason);
    const session = this.outgoing.get(peer);
    if (session !== undefined) {
      Object.assign(session.record, ended);
      this.dirtySenders.add(session.record);
      this.outgoing.delete(peer);
    }
    for (const record of this.receivedFrom.get(peer) ?? []) {
      Object.assign(record, ended);
      this.dirtyReceivers.add(record);
    }
    this.receivedFrom.delete(peer);
  }

  receive(_channelId: number, peer: Peer, message: Uint8Array): void {
    const decoded = decodeSoakMessage(message);
    const remote = parseSoakMoniker(peer.nodeInfo.moniker);
    if (decoded === undefined || remote === undefined) {
      this.malformed++;
      return;
    }
    const key = `${peer.id}/${decoded.nonceHex}`;
    let record = this.receivers.get(key);
    if (record === undefined) {
      record = {
        nonce: decoded.nonceHex,
        senderSlot: remote.slot,
        senderIncarnation: remote.incarnation,
        receiverSlot: this.config.slot,
        receiverIncarnation: this.config.incarnation,
        delivered: 0,
        lastSeq: 0,
        gaps: 0,
        duplicated: 0,
        end: 'open',
        replyNonce: this.outgoing.get(peer)?.record.nonce,
      };
      this.receivers.set(key, record);
      const list = this.receivedFrom.get(peer) ?? [];
      list.push(record);
      this.receivedFrom.set(peer, list);
    }
    // Exactly previous + 1 is the only right answer on an ordered, reliable connection.
    if (decoded.seq <= record.lastSeq) {
      record.duplicated++;
    } else {
      record.gaps += decoded.seq - record.lastSeq - 1;
      record.lastSeq = decoded.seq;
      record.delivered++;
    }
    this.dirtyReceivers.add(record);
  }

  /** Offers the next message on every idle session. Called at the configured rate. */
  tick(): void {
    for (const session of this.outgoing.values()) {
      if (session.busy) continue;
      session.busy = true;
      const seq = session.record.sent + 1;
      const message = encodeSoakMessage(session.nonce, seq, this.config.messageBytes);
      session.peer.send(SOAK_CHANNEL_ID, message, { timeoutMs: SEND_TIMEOUT_MS }).then(
        (accepted) => {
          session.busy = false;
          // Only an accepted message counts as sent, and only then does the next one get seq + 1.
          if (accepted) {
            session.record.sent = seq;
            this.dirtySenders.add(session.record);
          }
        },
        () => {
          session.busy = false;
        },
      );
    }
  }

  /** No send() in flight and nothing accepted still waiting in a queue or the link's buffer. */
  isDrained(): boolean {
    for (const session of this.outgoing.values()) {
      if (session.busy) return false;
      const status = session.peer.status();
      if (status.linkBufferedBytes > 0 || status.channels.some((channel) => channel.sendQueueLength > 0)) return false;
    }
    return true;
  }

  takeDirty(): { senders: SenderRecord[]; receivers: ReceiverRecord[] } {
    const out = { senders: [...this.dirtySenders], receivers: [...this.dirtyReceivers] };
    this.dirtySenders.clear();
    this.dirtyReceivers.clear();
    return out;
  }
}

function memorySample(): MemorySample {
  const usage = process.memoryUsage();
  return { heapUsedBytes: usage.heapUsed, rssBytes: usage.rss, externalBytes: usage.external };
}

function tell(message: FromSoakNode, then?: () => void): void {
  if (!process.connected) return;
  process.send!(message, undefined, {}, () => then?.());
}

/** SOAK_TRACE=1: every connection event on stderr, to reconstruct what happened to a reported session. */
function traceConnections(sw: Switch, me: string): void {
  const line = (text: string): void => console.error(`[trace ${Date.now()}] ${me} ${text}`);
  const why = (error: Error | undefined): string => (error === undefined ? 'clean' : `${error.name}: ${error.message}`);
  sw.on('peer:connected', ({ peer }) => line(`+ ${peer.nodeInfo.moniker} ${peer.direction} ${peer.address}`));
  sw.on('peer:disconnected', ({ peer, reason }) => line(`- ${peer.nodeInfo.moniker} ${peer.direction} (${why(reason)})`));
  sw.on('inbound:rejected', ({ remoteAddress, error }) => line(`x inbound ${remoteAddress} (${why(error)})`));
  sw.on('dial:failed', ({ address, error }) => line(`x dial ${address.slice(-20)} (${why(error)})`));
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '') as SoakNodeConfig;
  const agent = new SoakTrafficAgent(config);
  const sw = new Switch({
    identity: nodeKeyFromSecret(new Uint8Array(Buffer.from(config.secretHex, 'hex'))),
    network: SOAK_NETWORK,
    moniker: soakMoniker(config.slot, config.incarnation),
    transports: [tcpTransport()],
    aead: nodeChaCha20Poly1305,
    handshakeCrypto: nodeHandshakeCrypto,
    listen: [`tcp://127.0.0.1:${config.port}`],
    persistentPeers: config.persistentPeers,
    // Restarts take 0.5–2 s: redial quickly so the mesh heals within a kill interval.
    reconnect: { baseDelayMs: 200, maxDelayMs: 1000 },
    dialTimeoutMs: 3000,
    handshakeTimeoutMs: 5000,
  });
  sw.addAgent('soak', agent);
  if (process.env['SOAK_TRACE'] !== undefined) traceConnections(sw, `${config.slot}.${config.incarnation}`);
  sw.on('agent:error', ({ agent: name, error }) => console.error(`soak node ${config.slot}: agent ${name}: ${error.message}`));

  let stopping = false;
  // A node never outlives its parent. The parent may have died while we were still booting, before
  // this listener existed: then the channel is already closed and no event will come.
  process.on('disconnect', () => {
    if (!stopping) process.exit(1);
  });
  if (!process.connected) process.exit(1);

  const started = sw.start();
  const ticker = setInterval(() => agent.tick(), 1000 / config.messagesPerSecondPerLink);
  const reporter = setInterval(() => tell({ kind: 'report', memory: memorySample(), ...agent.takeDirty() }), config.reportIntervalMs);

  process.on('message', (message: ToSoakNode) => {
    if (message.kind === 'quiesce') {
      clearInterval(ticker);
      const deadline = Date.now() + QUIESCE_TIMEOUT_MS;
      const poll = (): void => {
        const drained = agent.isDrained();
        if (drained || Date.now() > deadline) tell({ kind: 'quiesced', drained });
        else setTimeout(poll, 10);
      };
      poll();
      return;
    }
    if (message.kind !== 'stop' || stopping) return;
    stopping = true;
    clearInterval(ticker);
    clearInterval(reporter);
    void (async () => {
      await started.catch(() => undefined);
      await sw.stop(); // flushes what was accepted on every connection, then closes them
      const final: FromSoakNode = {
        kind: 'final',
        memory: memorySample(),
        senders: agent.senders,
        receivers: [...agent.receivers.values()],
        malformed: agent.malformed,
      };
      // Then let the process end by itself: whatever keeps it alive now is a leak the parent sees.
      tell(final, () => process.disconnect());
    })();
  });

  try {
    await started;
  } catch (error) {
    stopping = true;
    clearInterval(ticker);
    clearInterval(reporter);
    tell({ kind: 'failed', error: error instanceof Error ? error.message : String(error) }, () => process.exit(1));
    return;
  }
  tell({ kind: 'ready', address: sw.addresses[0]! });
}

void main();
