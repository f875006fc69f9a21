/**
 * The page's connection state in words. Pure, so the sentences are tested without a browser.
 */
export interface ConnectionState {
  phase: 'starting' | 'running' | 'failed';
  /** Connected to the relay the page came from. */
  relayConnected: boolean;
  /** Peers other than that relay (other tabs over WebRTC, other relays and nodes). */
  directPeers: number;
  /** Nodes known only through the topology gossip. */
  farNodes: number;
  /** The page has been connected to the relay at some point. */
  everConnected: boolean;
  /** Until the next redial of the relay, when one is scheduled. */
  retryInMs: number | undefined;
  /** Why the node failed to start, or why the relay cannot be joined. */
  problem?: string | undefined;
}

function peers(n: number): string {
  return `${n} peer${n === 1 ? '' : 's'}`;
}

function retry(ms: number | undefined): string {
  if (ms === undefined || ms <= 500) return 'reconnecting now';
  return `retrying in ${Math.ceil(ms / 1000)} s`;
}

export function describeConnection(state: ConnectionState): string {
  if (state.phase === 'starting') return 'Starting this tab’s node…';
  if (state.phase === 'failed') return `This tab’s node could not start: ${state.problem ?? 'unknown error'}.`;
  const far = state.farNodes > 0 ? ` (${state.farNodes} more node${state.farNodes === 1 ? '' : 's'} known through them)` : '';
  if (state.relayConnected) {
    if (state.directPeers === 0) return 'Connected to the relay; no other peers yet: open this page in another tab to add one.';
    return `Connected to the relay and ${peers(state.directPeers)} directly${far}.`;
  }
  if (state.problem !== undefined) return `${state.problem}`;
  if (state.directPeers > 0) {
    const n = state.directPeers;
    return `Relay down: ${n} direct peer${n === 1 ? '' : 's'} still connected, ${retry(state.retryInMs)}${far}.`;
  }
  if (!state.everConnected) return state.retryInMs === undefined ? 'Connecting to the relay…' : `Cannot reach the relay yet: ${retry(state.retryInMs)}.`;
  return `Relay down and no direct peers: ${retry(state.retryInMs)}.`;
}
