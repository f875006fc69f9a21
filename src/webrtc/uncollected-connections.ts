import type { SimplePeerFactory, SimplePeerLike } from './simple-peer-like.js';

/**
 * Our RTCPeerConnections, answers and dials apart, that garbage collection has not freed yet. Chromium
 * refuses to construct one more while 500 exist in the page's renderer process (closed ones too: its
 * count drops only when the collector frees them: ~26 s after a page goes idle, and a page under an offer
 * storm collected once in 4 minutes), so this, not the per-minute allowances, is what a page can run out
 * of. Counted with a FinalizationRegistry on each RTCPeerConnection: the collector frees its wrapper
 * and the browser's object in the same pass.
 */
export class UncollectedConnections {
  private answers = 0;
  private dials = 0;
  private readonly registry = new FinalizationRegistry<boolean>((initiator) => {
    if (initiator) this.dials--;
    else this.answers--;
  });

  /** Of our dials (`initiator`) or of the offers we answer. */
  count(initiator: boolean): number {
    return initiator ? this.dials : this.answers;
  }

  /** `createPeer`, counting what it builds until it is collected. */
  counting(createPeer: SimplePeerFactory): SimplePeerFactory {
    return (options) => {
      const peer = createPeer(options);
      this.track(peer, options.initiator);
      return peer;
    };
  }

  private track(peer: SimplePeerLike, initiator: boolean): void {
    if (initiator) this.dials++;
    else this.answers++;
    // simple-peer drops its reference on destroy, so the connection may outlive the peer: count it.
    this.registry.register(peer._pc ?? peer, initiator);
  }
}
