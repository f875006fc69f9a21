/**
 * Our own dials to made-up `webrtc://<id>?via=<relay>` addresses (PEX hands them out), whose relay forges
 * each answer (ICE credentials no check satisfies) naming one victim address: real @roamhq/wrtc dials
 * that check a victim for their life and never connect.
 */
import { systemClock } from '../../src/util/clock.js';
import type { Negotiations, NegotiationsOptions } from '../../src/webrtc/negotiations.js';
import type { SignalData } from '../../src/webrtc/signal-messages.js';
import { falseCredentialAnswer } from './crowded-address.js';
import type { StunVictims } from './stun-victims.js';
import { waitFor } from './wait.js';

export interface ForgedDials {
  /** Negotiations' `sendSignal`: keeps our offers to made-up remotes (`made-up-<i>`), hands the rest to `otherwise`. */
  readonly sendSignal: NegotiationsOptions['sendSignal'];
  /** Dials `made-up-<i>` for each victim i (at 127.0.1.<i+1>), all answered at once naming that victim's first port; `onFailed` when one fails. */
  dial(negotiations: Negotiations, victims: readonly StunVictims[], onFailed?: (index: number, error: Error) => void): Promise<void>;
}

export function forgedDials(otherwise: NegotiationsOptions['sendSignal'] = () => true): ForgedDials {
  const offers = new Map<string, string>();
  return {
    sendSignal: (via, remote, data: SignalData, onLost, wanted) => {
      if (!remote.startsWith('made-up-')) return otherwise(via, remote, data, onLost, wanted);
      if (data.type === 'offer') offers.set(remote, data.sdp);
      return true;
    },
    dial: async (negotiations, victims, onFailed = () => {}) => {
      const remotes = victims.map((_, i) => `made-up-${i}`);
      const dials = remotes.map((remote, i) =>
        negotiations.start({ initiator: true, via: 'relay', remote, clock: systemClock, timeoutMs: 60_000, onConnected: (link) => link.destroy(), onFailed: (error) => onFailed(i, error) }),
      );
      await waitFor(() => remotes.every((remote) => offers.has(remote)), 5000, 'the offers');
      const answers = await Promise.all(remotes.map((remote) => falseCredentialAnswer(offers.get(remote)!)));
      // All in one go: answered one by one, a slow (loaded) machine let the first holders' 1.5 s pass
      // before the last answer came, and more than the budget had checked by then (15 of 16, 1 of 60 runs).
      dials.forEach((dial, i) => dial.signal({ type: 'answer', sdp: `${answers[i]!.trimEnd()}\r\na=candidate:1 1 udp 2122260223 127.0.1.${i + 1} ${victims[i]!.ports[0]!} typ host generation 0\r\n` }));
    },
  };
}
