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
