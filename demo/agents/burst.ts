import { BaseAgent, ConfigError, type ChannelDescriptor, type Peer } from '../../src/index.js';

/**
 * Load for the demo's throughput plot: `burst()` sends a number of fixed-size messages to every peer
 * on a low-priority channel of its own; receivers only count them. The message size is capped by the
 * channel (recvMessageCapacity), so a peer sending more costs itself the connection (ERR_MESSAGE_TOO_LARGE).
 */

export const BurstCh = 0x33;
export const BURST_MESSAGE_BYTES = 1024;
export const DEFAULT_BURST_MESSAGES = 200;
export const MAX_BURST_MESSAGES = 1000;
/** Longest a burst waits for room in one peer's queue before giving up on that peer. */
const BURST_SEND_TIMEOUT_MS = 5 * 1000;

export interface BurstResult {
  peers: number;
  /** Messages queued, over all peers. */
  sent: number;
}

export class BurstAgent extends BaseAgent {
  readonly channels: readonly ChannelDescriptor[] = [
    { id: BurstCh, name: 'burst', priority: 1, sendQueueCapacity: 256, recvMessageCapacity: BURST_MESSAGE_BYTES },
  ];
  receivedMessages = 0;
  receivedBytes = 0;

  receive(_channelId: number, _peer: Peer, message: Uint8Array): void {
    this.receivedMessages++;
    this.receivedBytes += message.length;
  }

  /** Sends `count` messages of BURST_MESSAGE_BYTES to every peer that has the channel, all peers at once. */
  async burst(count = DEFAULT_BURST_MESSAGES): Promise<BurstResult> {
    if (!Number.isInteger(count) || count < 1 || count > MAX_BURST_MESSAGES) {
      throw new ConfigError('ERR_INVALID_ARGUMENT', `A burst is 1..${MAX_BURST_MESSAGES} messages, got ${count}`);
    }
    // Peers that take messages of this size (one that declared a smaller recvMessageCapacity would make send() reject).
    const peers = (this.sw?.peers ?? []).filter((peer) => peer.maxMessageBytes(BurstCh) >= BURST_MESSAGE_BYTES);
    const sent = await Promise.all(
      peers.map(async (peer) => {
        let queued = 0;
        for (let i = 0; i < count; i++) {
          // A fresh buffer each: send() keeps it until it is written.
          const message = new Uint8Array(BURST_MESSAGE_BYTES).fill(i & 0xff);
          if (!(await peer.send(BurstCh, message, { timeoutMs: BURST_SEND_TIMEOUT_MS }))) break;
          queued++;
        }
        return queued;
      }),
    );
    return { peers: peers.length, sent: sent.reduce((sum, n) => sum + n, 0) };
  }
}
