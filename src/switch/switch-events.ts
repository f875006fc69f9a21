import type { Peer, PeerStatus } from './peer.js';

/** What a Switch tells its listeners (`sw.on(type, listener)`). */
export interface SwitchEvents {
  'peer:connected': { peer: Peer };
  'peer:disconnected': { peer: Peer; reason: Error | undefined };
  /** A peer misbehaved or failed (protocol error, timeout, stopPeerForError); disconnection follows. */
  'peer:error': { peer: Peer; error: Error };
  'dial:failed': { address: string; error: Error; willRetry: boolean };
  'inbound:rejected': { remoteAddress: string; error: Error };
  /**
   * `suppressed`: for a SendError about another peer out of `receive` (reported at most 10 times per
   * 10 s per agent), how many such errors of that agent went unreported since its last report.
   */
  'agent:error': { agent: string; error: Error; suppressed?: number };
  /** A stop hook threw, rejected or overran stopTimeoutMs (TimeoutError); stop() went on without it. */
  'stop-hook:error': { hook: string; error: Error };
}

/** A Switch's status snapshot (`sw.status()`). */
export interface SwitchStatus {
  nodeId: string;
  network: string;
  moniker: string;
  listen: string[];
  peers: PeerStatus[];
}
