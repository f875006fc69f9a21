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
  /** Dials `made-up-<i>` for each victim i (at 127.0.1.<i+1>), answered naming that victim's first port; `onFailed` when one fails. */
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
      for (const [i, victim] of victims.entries()) {
        const remote = `made-up-${i}`;
        const dial = negotiations.start({ initiator: true, via: 'relay', remote, clock: systemClock, timeoutMs: 60_000, onConnected: (link) => link.destroy(), onFailed: (error) => onFailed(i, error) });
        await waitFor(() => offers.has(remote), 5000, 'the offer');
        const answerSdp = await falseCredentialAnswer(offers.get(remote)!);
        dial.signal({ type: 'answer', sdp: `${answerSdp.trimEnd()}\r\na=candidate:1 1 udp 2122260223 127.0.1.${i + 1} ${victim.ports[0]!} typ host generation 0\r\n` });
      }
    },
  };
}
