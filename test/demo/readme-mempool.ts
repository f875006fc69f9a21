// The README's "write your own agent" example, kept here so it is type-checked and tested
// (test/demo/readme-mempool.test.ts). In the README the import is from 'meshlink'.
import { BaseAgent, decodeMessage, type Switch } from '../../src/index.js';

const MempoolCh = 0x30;

export class MempoolAgent extends BaseAgent {
  readonly channels = [{ id: MempoolCh, priority: 5 }];
  readonly seen = new Set<string>(); // the mempool; bound it in real code

  override start(sw: Switch): void {
    super.start(sw);
    sw.on('peer:connected', ({ peer }) => peer.data.set('mempool', new Set<string>())); // per-peer state
    sw.on('peer:disconnected', ({ peer }) => peer.data.delete('mempool'));
    void this.gossipTxRoutine(sw);
  }

  private async gossipTxRoutine(sw: Switch): Promise<void> {
    for await (const { peer: sender, message } of sw.receive(MempoolCh)) { // any peer; ends on stop()
      try {
        const { tx } = decodeMessage(message) as { tx?: unknown }; // throws on malformed msgpack
        if (!(tx instanceof Uint8Array)) throw new Error('not a TxMessage');
        const key = tx.join(); // hash it in real code
        (sender.data.get('mempool') as Set<string> | undefined)?.add(key);
        if (this.seen.has(key)) continue; // not new
        this.seen.add(key);
        for (const peer of sw.peers) { // all peers except those that have it
          const known = peer.data.get('mempool') as Set<string> | undefined;
          if (peer.hasChannel(MempoolCh) && !known?.has(key) && peer.trySend(MempoolCh, message)) known?.add(key);
        }
      } catch (error) {
        sw.stopPeerForError(sender, error); // a malformed message costs the sender its connection
      }
    }
  }
}
