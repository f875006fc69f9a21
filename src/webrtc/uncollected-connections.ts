import type { SimplePeerLike } from './simple-peer-like.js';

interface Tracked {
  initiator: boolean;
  /** The relay network an answer came through (NegotiationRequest.group). */
  group: string | undefined;
}

/**
 * Our RTCPeerConnections, answers and dials apart (answers also per relay network), that garbage
 * collection has not freed yet. Chromium refuses to construct one more while 500 exist in the page's
 * renderer process (closed ones too: its count drops only when the collector frees them: ~26 s after a
 * page goes idle, and a page under an offer storm collected once in 4 minutes), so this, not the
 * per-minute allowances, is what a page can run out of. Counted with a FinalizationRegistry on each
 * RTCPeerConnection: the collector frees its wrapper and the browser's object in the same pass.
 */
export class UncollectedConnections {
  private answers = 0;
  private dials = 0;
  /** Bounded by the answers counted: a network is dropped when its last is collected. */
  private readonly answersByGroup = new Map<string, number>();
  private readonly registry = new FinalizationRegistry<Tracked>((tracked) => this.collected(tracked));

  /** Of our dials (`initiator`) or of the offers we answer. */
  count(initiator: boolean): number {
    return initiator ? this.dials : this.answers;
  }

  /** Of the offers we answered through the relays of `group`. */
  answersThrough(group: string): number {
    return this.answersByGroup.get(group) ?? 0;
  }

  /**
   * Whether one more answer through the relays of `group` fits: fewer than `max` in all and
   * `maxPerNetwork` through `group`, and, for a network already holding some, fewer than an equal share
   * of `max` among the networks holding some and one seat more, with that seat left free. Relays of four
   * networks, 50 each (the per-network cap alone), filled the page's 200 until the browser collected
   * garbage (~26 s idle, once in 4 minutes under a storm), and then honest offers through any network
   * went unanswered. Now k networks storming it hold at most k/(k+1) of it (4: 40 each, 160), a network
   * new to it (holding none) takes its first from what is left, and an honest network holding fewer
   * than its share takes more while the stormers may not.
   */
  mayAnswerThrough(group: string, max: number, maxPerNetwork: number): boolean {
    const held = this.answersThrough(group);
    if (this.answers >= max || held >= maxPerNetwork) return false;
    if (held === 0 || !Number.isFinite(max)) return true;
    const seat = Math.floor(max / (this.answersByGroup.size + 1));
    return held < seat && this.answers < max - seat;
  }

  /** Counts `peer`'s RTCPeerConnection until it is collected. */
  track(peer: SimplePeerLike, initiator: boolean, group: string | undefined): void {
    if (initiator) this.dials++;
    else {
      this.answers++;
      if (group !== undefined) this.answersByGroup.set(group, this.answersThrough(group) + 1);
    }
    // simple-peer drops its reference on destroy, so the connection may outlive the peer: count it.
    this.registry.register(peer._pc ?? peer, { initiator, group: initiator ? undefined : group });
  }

  private collected({ initiator, group }: Tracked): void {
    if (initiator) {
      this.dials--;
      return;
    }
    this.answers--;
    if (group === undefined) return;
    const left = this.answersThrough(group) - 1;
    if (left > 0) this.answersByGroup.set(group, left);
    else this.answersByGroup.delete(group);
  }
}
