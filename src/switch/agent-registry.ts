import { ConfigError, toError } from '../errors.js';
import { withDeadline } from '../util/abort.js';
import type { Clock } from '../util/clock.js';
import { isPromiseLike } from '../util/events.js';
import type { Agent } from './agent.js';
import type { Peer } from './peer.js';
import type { Switch } from './switch.js';

/**
 * A Switch's agents by name, and the calls the Switch makes on all of them. A throwing agent is
 * reported through `onError` and never stops the others from hearing of the same peer or stop.
 */
export class AgentRegistry {
  private readonly agents = new Map<string, Agent>();

  constructor(private readonly onError: (agent: string, error: Error) => void) {}

  /** Registration order, which is also the order of every call below. */
  get all(): ReadonlyMap<string, Agent> {
    return this.agents;
  }

  add(name: string, agent: Agent): void {
    if (this.agents.has(name)) throw new ConfigError('ERR_INVALID_CONFIG', `An agent named "${name}" is already added`);
    this.agents.set(name, agent);
  }

  get(name: string): Agent | undefined {
    return this.agents.get(name);
  }

  /** Starts each agent in turn; the first failure rejects (the Switch then stops). */
  async startAll(sw: Switch): Promise<void> {
    for (const agent of this.agents.values()) await agent.start?.(sw);
  }

  peerAdded(peer: Peer): void {
    for (const [name, agent] of this.agents) this.call(name, () => agent.addPeer?.(peer));
  }

  peerRemoved(peer: Peer, reason: Error | undefined): void {
    for (const [name, agent] of this.agents) this.call(name, () => agent.removePeer?.(peer, reason));
  }

  /**
   * Stops each agent in turn, awaiting each for at most `timeoutMs` (the Switch's stopTimeoutMs, as for
   * stop hooks); failures and overruns (a TimeoutError) are reported, and the rest still stop. Unbounded,
   * one agent whose stop never settled (awaiting its read loop, itself stuck on a peer's answer) held
   * `stop()` for ever: transports never closed, stop hooks (the home lock) never ran.
   */
  async stopAll(options: { timeoutMs: number; clock: Clock }): Promise<void> {
    for (const [name, agent] of this.agents) {
      if (agent.stop === undefined) continue;
      try {
        await withDeadline(async () => agent.stop!(), { timeoutMs: options.timeoutMs, clock: options.clock, what: `Agent "${name}" stop` });
      } catch (error) {
        this.onError(name, toError(error));
      }
    }
  }

  private call(name: string, call: () => unknown): void {
    try {
      const result = call();
      // addPeer/removePeer are declared void, but an async one type-checks: its rejection (a greeting
      // `await peer.send` refused by the peer's NodeInfo) must be reported, not crash the process.
      if (isPromiseLike(result)) result.then(undefined, (error: unknown) => this.onError(name, toError(error)));
    } catch (error) {
      this.onError(name, toError(error));
    }
  }
}
