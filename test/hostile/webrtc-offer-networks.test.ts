/**
 * Offers we answer are capped per delivering relay (8 slots, 12 new answers a minute) and in all (32
 * slots, a burst of 32). Relay ids are free keys: one host connected to us with 4 of them, each
 * relaying 8 offers from made-up senders, held all 32 slots and the whole burst of answers, and an
 * honest relay's offer was ignored until the attacker's timed out. Relays are now also capped per
 * network (the relay's IPv4 /16, where the Switch counts it): 16 slots and a burst of 16 for one host.
 *
 * The relays are real TCP connections the victim dialled (as a page dials relays PEX handed it); the
 * attacker's listen on 127.2.0.x (one /16), the honest one on 127.0.0.1. The victim's WebRTC is the harness's stub: its answering sessions never connect, so each
 * offer answered holds its slot for the accept timeout.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { BaseAgent } from '../../src/switch/agent.js';
import type { Peer } from '../../src/switch/peer.js';
import { SIGNAL_CHANNEL_ID, WEBRTC_MAX_PENDING_ACCEPTS } from '../../src/webrtc/constants.js';
import { SignalAgent } from '../../src/webrtc/signal-agent.js';
import { encodeSignalMessage } from '../../src/webrtc/signal-messages.js';
import { startNode, stopAll } from '../helpers/nodes.js';
import { waitFor } from '../helpers/wait.js';
import { startVictim, stopHostileNodes, type Victim } from './harness.js';

afterEach(async () => {
  await stopHostileNodes();
  await stopAll();
});

const ATTACKER_RELAYS = 4;
const OFFERS_PER_RELAY = 8;

/** A relay that hands every peer that connects `count` offers from made-up senders, at once. */
class OfferingRelay extends BaseAgent {
  readonly channels = new SignalAgent().channels;
  constructor(private readonly count: number) {
    super();
  }
  override addPeer(peer: Peer): void {
    for (let i = 0; i < this.count; i++) {
      const from = randomBytes(20).toString('hex');
      peer.trySend(SIGNAL_CHANNEL_ID, encodeSignalMessage({ type: 'signal', from, to: peer.id, data: { type: 'offer', sdp: 'v=0 stub' } }));
    }
  }
  receive(): void {}
}

/**
 * A relay listening on `host` that the victim dials (offers relayed by a peer that dialled us are
 * taken as lies about the sender), sending `offers` offers once connected; resolves with its id.
 */
async function relayOn(victim: Victim, host: string, offers: number): Promise<string> {
  const relay = await startNode({ network: 'hostile-net', listen: [`tcp://${host}:0`], agents: { signal: new OfferingRelay(offers) } });
  await victim.sw.dial(relay.sw.addresses[0]!);
  return relay.key.nodeId;
}

describe('relays of one network offering us made-up senders', () => {
  it("hold at most 16 answer slots: an honest relay's offer is still answered", async () => {
    const victim = await startVictim({ webrtc: 'stub' });
    const attackers: string[] = [];
    for (let i = 1; i <= ATTACKER_RELAYS; i++) attackers.push(await relayOn(victim, `127.2.0.${i}`, OFFERS_PER_RELAY));
    const held = (): number => attackers.reduce((sum, id) => sum + (victim.rtc.pendingAcceptCounts().byVia.get(id) ?? 0), 0);
    // The offers are sent as each relay connects: given time, before the fix all 32 were answered.
    await waitFor(() => held() >= 16, 5000, 'attacker offers answered');
    await new Promise((resolve) => setTimeout(resolve, 500));
    const attackerHeld = held();
    const honest = await relayOn(victim, '127.0.0.1', 1);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const honestHeld = victim.rtc.pendingAcceptCounts().byVia.get(honest) ?? 0;
    console.log(`attacker relays (one /16) held ${attackerHeld} of ${WEBRTC_MAX_PENDING_ACCEPTS} answer slots; the honest relay's offer answered: ${honestHeld}`);
    // Before: 32 of 32, and the honest offer ignored.
    expect(attackerHeld).toBe(16);
    expect(honestHeld).toBe(1);
    // Each attacker relay keeps its own cap of 8, and stays connected (ignored offers cost it nothing).
    for (const id of attackers) expect(victim.rtc.pendingAcceptCounts().byVia.get(id) ?? 0).toBeLessThanOrEqual(8);
    expect(attackers.every((id) => victim.sw.getPeer(id)?.isConnected)).toBe(true);
  }, 30_000);
});
