import { BoundedMap } from '../util/bounded-map.js';
import { monotonicNow, type Clock, type TimerHandle } from '../util/clock.js';
import { DISCARD_PORT, type CandidateTarget } from './remote-candidates.js';
import type { SignalData } from './signal-messages.js';
import { WEBRTC_ANSWERED_PLACES, WEBRTC_CROWDED_ADDRESS_HOLD_MS, WEBRTC_NEGOTIATIONS_PER_REMOTE_ADDRESS, WEBRTC_OWN_RELAY_PLACES } from './candidate-limits.js';
import { WEBRTC_PROBING_ANSWERS, WEBRTC_PROBING_DIALS, WEBRTC_WAITING_CANDIDATES, WEBRTC_WAITING_CANDIDATES_PER_NEGOTIATION } from './candidate-limits.js';
import { WEBRTC_UNANSWERED_CHECKS_MS, WEBRTC_UNANSWERED_CHECKS_POLL_MS } from './candidate-limits.js';
import { UnansweredChecksPoll, type PolledHolder } from './unanswered-checks.js';
import { DIAL_PROBE_KEY, hostKeyOf, placeKeyOf, PROBE_KEY, probeKeyOf, targetKey } from './candidate-slot-keys.js';

export * from './candidate-limits.js';

/** A negotiation as CandidateTargets sees it. */
export interface CandidateHolder extends PolledHolder {
  /** Our dial (we made the offer): counted in WEBRTC_PROBING_DIALS, not in WEBRTC_PROBING_ANSWERS (strangers' offers fill that). */
  readonly initiator?: boolean | undefined;
  /** The network of the relay that carried it (Negotiation.group). */
  readonly group?: string | undefined;
  /** The host of that relay (Negotiation.host): within a network, a host holding fewer slots is served first. */
  readonly host?: string | undefined;
  /** Times its hold on a slot others wait for; without one (or `overstayed`) it is never timed. */
  readonly clock?: Clock | undefined;
  /**
   * It held a slot others wait for WEBRTC_CROWDED_ADDRESS_HOLD_MS (`hold`), or WEBRTC_UNANSWERED_CHECKS_MS
   * with no answer to its checks (`unanswered`): it should end (and be released).
   */
  overstayed?(why: 'hold' | 'unanswered'): void;
}

/** A candidate waiting for a slot at its address, and how to hand it to its negotiation's RTCPeerConnection. */
export interface WaitingCandidate {
  readonly candidate: SignalData;
  handOn(candidate: SignalData): void;
}

interface Waiter extends WaitingCandidate {
  readonly negotiation: CandidateHolder;
  readonly target: CandidateTarget;
}

/**
 * The targets of the remote candidates handed to our negotiations in flight. libwebrtc sends a
 * negotiation's STUN checks at its own pace (~21 a second under @roamhq/wrtc, ~16 in Chromium, for as
 * long as none succeeds), whether the remote named 1 candidate or 60: what one offer buys at a host:port
 * is that pace for the answer's life, and 32 answers naming one host:port bought 32 times it (670
 * datagrams a second). So a host:port is held by one negotiation at a time, and, within one
 * negotiation, one candidate of each transport per address: an honest remote names one host candidate
 * per local address, its srflx and relay candidates elsewhere (a TURN server's several allocations share
 * its address: any one of them reaches the remote, and installs the TURN permission for it), and no two
 * of our negotiations talk to one remote socket. So a remote naming our own machine's address (as
 * another node on it honestly does) or a LAN host reaches one of its ports per negotiation.
 * `tcptype active` candidates (port 9) are never connected to, and take nothing.
 *
 * And an address (of one transport; an IPv6 /64 counts as one) is held by at most
 * WEBRTC_NEGOTIATIONS_PER_REMOTE_ADDRESS negotiations at once: 32 naming 32 ports of it had all 32 check
 * it. A remote's `typ relay` is its own word, so relay candidates get no exception; the address where
 * our own RTCPeerConnections got relayed candidates (our TURN server, `noteOwnRelay`) does. Elsewhere a
 * UDP candidate over the cap waits instead (bounded) and is handed on when a slot frees, so that the 5th
 * peer relayed by one TURN server links a little later rather than never. While candidates wait at an
 * address, a holder that has not connected within WEBRTC_CROWDED_ADDRESS_HOLD_MS of taking its slot is
 * ended (`overstayed`): offers naming it that never connect held its slots for the answer's life (15 s),
 * and honest peers relayed by a TURN server there waited past their dial deadline (10 s). A freed slot
 * goes to the waiter whose relay network holds the fewest slots at the address, then whose relay host
 * within it does, the oldest first: a network's waiting offers (one relay's network sends 16 at once) do
 * not come before another network's. TCP candidates over the cap are dropped (each is a connection; a
 * TURN server's relayed addresses are UDP).
 *
 * And node-wide, at most WEBRTC_PROBING_ANSWERS answers hold candidates (UDP or TCP) at addresses that
 * never answered us (all but our TURN servers' and connected peers' addresses, `noteAnswered`) at once:
 * one address each under the cap above, 32 answers still sent 646 datagrams a second to 32 addresses,
 * and 32 naming a TCP candidate each had 32 addresses get connections. The slot is one more place
 * (PROBE_KEY) with the same waiting, hold and hand-on for UDP candidates; a TCP one finding it full is
 * dropped, as over the per-address cap. Our own dials have a budget of their own, WEBRTC_PROBING_DIALS
 * (DIAL_PROBE_KEY): a relay forges the answers to dials at made-up addresses. Only our checks wait: a
 * remote whose checks reach us is answered (peer-reflexive) and links at once. A holder of a slot others
 * wait for whose checks got no answer at all within WEBRTC_UNANSWERED_CHECKS_MS is ended then
 * (UnansweredChecksPoll), before the hold.
 */
export class CandidateTargets {
  /** Target (transport, host, port) → the negotiation it was handed to. ≤ 64 per negotiation in flight. */
  private readonly holders = new Map<string, CandidateHolder>();
  /** (transport, place) → the negotiations holding a target there, and since when (monotonic ms; undefined: untimed). */
  private readonly holdersByPlace = new Map<string, Map<CandidateHolder, number | undefined>>();
  /** (transport, place) → the timer ending overstaying holders there, while candidates wait there. */
  private readonly holdTimers = new Map<string, { clock: Clock; handle: TimerHandle }>();
  /** (transport, place) → the candidates waiting for a slot there, oldest first. ≤ WEBRTC_WAITING_CANDIDATES in all. */
  private readonly waiting = new Map<string, Waiter[]>();
  private waitingCount = 0;
  /** Per negotiation: its targets, the (transport, host) pairs and (transport, place) pairs they are at, and the places it waits at. */
  private readonly byNegotiation = new Map<CandidateHolder, Held>();
  /** (udp, place) of our own relayed candidates, oldest first. ≤ WEBRTC_OWN_RELAY_PLACES. */
  private readonly ownRelayPlaces = new Set<string>();
  /** (udp, place) of the remote ends of connected negotiations. */
  private readonly answeredPlaces = new BoundedMap<string, true>(WEBRTC_ANSWERED_PLACES);
  private readonly unansweredPoll = new UnansweredChecksPoll(() => this.contestedHolders(), WEBRTC_UNANSWERED_CHECKS_MS, WEBRTC_UNANSWERED_CHECKS_POLL_MS);

  constructor(
    private readonly perAddress = WEBRTC_NEGOTIATIONS_PER_REMOTE_ADDRESS,
    private readonly holdMs = WEBRTC_CROWDED_ADDRESS_HOLD_MS,
    private readonly probingAnswers = WEBRTC_PROBING_ANSWERS,
    private readonly probingDials = WEBRTC_PROBING_DIALS,
  ) {}

  /**
   * Whether `negotiation` may hand on a candidate at `target` now; if so, the target is its until
   * `release`. A UDP one refused only because its address is full, or the answers probing addresses
   * that never answered are as many as may be, waits, when `later` is given and there is room, until
   * `later.handOn` gets it.
   */
  take(negotiation: CandidateHolder, target: CandidateTarget, later?: WaitingCandidate): boolean {
    if (target.transport === 'tcp' && target.port === DISCARD_PORT) return true;
    const held = this.stateOf(negotiation);
    if (held.hosts.has(hostKeyOf(target)) || held.waits.has(placeKeyOf(target)) || this.holders.has(targetKey(target))) {
      this.forgetIfEmpty(negotiation);
      return false;
    }
    const fullAt = this.fullSlotFor(negotiation, target);
    if (fullAt !== undefined) {
      if (later !== undefined) this.wait({ ...later, negotiation, target }, fullAt);
      this.forgetIfEmpty(negotiation);
      return false;
    }
    this.claim(negotiation, target);
    return true;
  }

  /** The slot `target` needs that has no room (its place, or a probing one), or undefined when it may be claimed. */
  private fullSlotFor(negotiation: CandidateHolder, target: CandidateTarget): string | undefined {
    const placeKey = placeKeyOf(target);
    if (this.needsProbeSlot(negotiation, target) && this.isFull(probeKeyOf(negotiation))) return probeKeyOf(negotiation);
    // Another address of a place it holds (an IPv6 /64) takes no other slot: its checks keep their pace.
    if (!(this.byNegotiation.get(negotiation)?.places.has(placeKey) ?? false) && this.isFull(placeKey)) return placeKey;
    return undefined;
  }

  /**
   * Whether `target` would make `negotiation` one probing an address that never answered, and it is not
   * one yet. TCP candidates too: @roamhq/wrtc connected to a `tcptype passive` candidate of each of 32
   * answers at once (32 addresses, 695–1,006 connections in the first second, then STUN over them at
   * ~1.9 KB/s each), past the 8 answers that UDP checks are held to. The addresses that answered us are
   * remembered by address (as UDP places), whatever the transport of the candidate now.
   */
  private needsProbeSlot(negotiation: CandidateHolder, target: CandidateTarget): boolean {
    const addressKey = placeKeyOf({ ...target, transport: 'udp' });
    if (this.ownRelayPlaces.has(addressKey) || this.answeredPlaces.get(addressKey) !== undefined) return false;
    return !(this.byNegotiation.get(negotiation)?.places.has(probeKeyOf(negotiation)) ?? false);
  }

  /** The timed holders of slots others wait for, and since when they hold one (the earliest). */
  private contestedHolders(): Map<PolledHolder, number> {
    const contested = new Map<PolledHolder, number>();
    for (const key of this.waiting.keys()) {
      for (const [holder, since] of this.holdersByPlace.get(key) ?? []) {
        if (since !== undefined && since < (contested.get(holder) ?? Infinity)) contested.set(holder, since);
      }
    }
    return contested;
  }

  /** Frees what `negotiation` holds (it ended, or connected: a connected one takes no more candidates), and hands the slots on. */
  release(negotiation: CandidateHolder): void {
    const held = this.byNegotiation.get(negotiation);
    if (held === undefined) return;
    this.byNegotiation.delete(negotiation);
    for (const key of held.targets) this.holders.delete(key);
    for (const placeKey of held.places) {
      const holders = this.holdersByPlace.get(placeKey);
      holders?.delete(negotiation);
      if (holders?.size === 0) this.holdersByPlace.delete(placeKey);
    }
    for (const [placeKey, queueKey] of held.waits) this.removeWaiter(queueKey, (waiter) => waiter.negotiation === negotiation && placeKeyOf(waiter.target) === placeKey);
    for (const placeKey of held.places) this.handOnFreed(placeKey);
  }

  /**
   * A negotiation connected with its remote at `address` (the selected pair's remote end): checks there
   * are answered, and a remote candidate there takes no probing slot (WEBRTC_PROBING_ANSWERS).
   */
  noteAnswered(address: string): void {
    const placeKey = placeKeyOf({ transport: 'udp', host: address, port: 0 });
    if (this.answeredPlaces.get(placeKey) !== undefined) return;
    this.answeredPlaces.set(placeKey, true);
    this.readmitProbeWaiters((waiter) => placeKeyOf(waiter.target) === placeKey);
  }

  /**
   * `address` is where one of our RTCPeerConnections got a relayed candidate (`typ relay`): a TURN server
   * of our own iceServers, which answered our credentials. Remote candidates there (UDP) take no slot: a
   * TURN server is no victim of ours to protect (it relays for us, at any rate we send), and every peer
   * relayed by the app's TURN server names its address, where offers that never connect, through relays
   * on other hosts of an honest relay's own network, held the slots while the honest peers' dials timed
   * out (10 s). Candidates already waiting there (for a slot there, or a probing one) are handed on.
   */
  noteOwnRelay(address: string): void {
    const placeKey = placeKeyOf({ transport: 'udp', host: address, port: 0 });
    if (this.ownRelayPlaces.has(placeKey)) return;
    this.ownRelayPlaces.add(placeKey);
    if (this.ownRelayPlaces.size > WEBRTC_OWN_RELAY_PLACES) this.ownRelayPlaces.delete(this.ownRelayPlaces.values().next().value!);
    this.handOnFreed(placeKey);
    this.readmitProbeWaiters((waiter) => placeKeyOf(waiter.target) === placeKey);
  }

  /** Targets held, for tests. */
  get size(): number {
    return this.holders.size;
  }

  /** Candidates waiting for a slot, for tests. */
  get waitingSize(): number {
    return this.waitingCount;
  }

  private stateOf(negotiation: CandidateHolder): Held {
    let held = this.byNegotiation.get(negotiation);
    if (held === undefined) {
      held = { targets: [], hosts: new Set(), places: new Set(), waits: new Map() };
      this.byNegotiation.set(negotiation, held);
    }
    return held;
  }

  private forgetIfEmpty(negotiation: CandidateHolder): void {
    const held = this.byNegotiation.get(negotiation);
    if (held !== undefined && held.hosts.size === 0 && held.waits.size === 0) this.byNegotiation.delete(negotiation);
  }

  /** Whether slot `key` (a place, or a probing one) has no room left (never so at our own TURN server's relayed address). */
  private isFull(key: string): boolean {
    const held = this.holdersByPlace.get(key)?.size ?? 0;
    if (key === PROBE_KEY) return held >= this.probingAnswers;
    if (key === DIAL_PROBE_KEY) return held >= this.probingDials;
    return !this.ownRelayPlaces.has(key) && held >= this.perAddress;
  }

  private claim(negotiation: CandidateHolder, target: CandidateTarget): void {
    const held = this.stateOf(negotiation);
    if (this.needsProbeSlot(negotiation, target)) this.claimSlot(negotiation, held, probeKeyOf(negotiation));
    held.hosts.add(hostKeyOf(target));
    held.targets.push(targetKey(target));
    this.holders.set(targetKey(target), negotiation);
    this.claimSlot(negotiation, held, placeKeyOf(target));
  }

  private claimSlot(negotiation: CandidateHolder, held: Held, key: string): void {
    if (held.places.has(key)) return;
    held.places.add(key);
    const holders = this.holdersByPlace.get(key) ?? new Map<CandidateHolder, number | undefined>();
    holders.set(negotiation, negotiation.clock === undefined ? undefined : monotonicNow(negotiation.clock));
    this.holdersByPlace.set(key, holders);
    if (negotiation.clock !== undefined && this.waiting.has(key)) this.unansweredPoll.arm(negotiation.clock);
  }

  /** Queues `waiter` for slot `queueKey` (its place, or PROBE_KEY), within the bounds. */
  private wait(waiter: Waiter, queueKey: string): void {
    // TCP candidates are connections opened at once, and no TURN server's relayed address is one.
    if (waiter.target.transport !== 'udp') return;
    const held = this.stateOf(waiter.negotiation);
    if (held.waits.size >= WEBRTC_WAITING_CANDIDATES_PER_NEGOTIATION) return;
    if (this.waitingCount >= WEBRTC_WAITING_CANDIDATES && !this.dropOneOfBusiestNetwork(waiter.negotiation.group)) return;
    held.waits.set(placeKeyOf(waiter.target), queueKey);
    const queue = this.waiting.get(queueKey) ?? [];
    queue.push(waiter);
    this.waiting.set(queueKey, queue);
    this.waitingCount++;
    this.armHoldTimer(queueKey);
    for (const holder of this.holdersByPlace.get(queueKey)?.keys() ?? []) if (holder.clock !== undefined) this.unansweredPoll.arm(holder.clock);
  }

  /**
   * Makes room for a candidate of relay network `group` when the waiting ones are as many as may be: drops
   * a waiting candidate (the last of a queue) of the network with the most waiting, when that has at least
   * two more than `group` (as answers are swapped, negotiations.ts). Answers of one network naming a spread
   * of addresses, waiting for a probing slot, filled the 128, and another network's answers lost theirs.
   */
  private dropOneOfBusiestNetwork(group: string | undefined): boolean {
    const byGroup = new Map<string | undefined, Waiter[]>();
    for (const queue of this.waiting.values()) {
      for (const waiter of queue) byGroup.set(waiter.negotiation.group, [...(byGroup.get(waiter.negotiation.group) ?? []), waiter]);
    }
    let busiest: Waiter[] = [];
    for (const waiters of byGroup.values()) if (waiters.length > busiest.length) busiest = waiters;
    if (busiest.length < (byGroup.get(group)?.length ?? 0) + 2) return false;
    const dropped = busiest[busiest.length - 1]!;
    const held = this.byNegotiation.get(dropped.negotiation)!;
    this.removeWaiter(held.waits.get(placeKeyOf(dropped.target))!, (queued) => queued === dropped);
    held.waits.delete(placeKeyOf(dropped.target));
    this.forgetIfEmpty(dropped.negotiation);
    return true;
  }

  /**
   * While candidates wait at `placeKey`, ends its holders as each overstays (WEBRTC_CROWDED_ADDRESS_HOLD_MS
   * since it took the slot), on the clock of the longest-holding timed one. Ending one releases it,
   * which hands its slot on and arms this again.
   */
  private armHoldTimer(placeKey: string): void {
    if (this.holdTimers.has(placeKey) || !this.waiting.has(placeKey)) return;
    let longest: { holder: CandidateHolder; since: number } | undefined;
    for (const [holder, since] of this.holdersByPlace.get(placeKey) ?? []) {
      if (since !== undefined && holder.overstayed !== undefined && (longest === undefined || since < longest.since)) longest = { holder, since };
    }
    if (longest === undefined) return;
    const clock = longest.holder.clock!;
    const handle = clock.setTimeout(() => {
      this.holdTimers.delete(placeKey);
      const now = monotonicNow(clock);
      const overstaying = [...(this.holdersByPlace.get(placeKey) ?? [])].filter(([, since]) => since !== undefined && now - since >= this.holdMs);
      for (const [holder] of overstaying) if (this.waiting.has(placeKey)) holder.overstayed?.('hold');
      this.armHoldTimer(placeKey);
    }, Math.max(0, longest.since + this.holdMs - monotonicNow(clock)));
    this.holdTimers.set(placeKey, { clock, handle });
  }

  private removeWaiter(placeKey: string, matches: (waiter: Waiter) => boolean): void {
    const queue = this.waiting.get(placeKey) ?? [];
    const index = queue.findIndex(matches);
    if (index < 0) return;
    queue.splice(index, 1);
    this.waitingCount--;
    if (queue.length > 0) return;
    this.waiting.delete(placeKey);
    const timer = this.holdTimers.get(placeKey);
    timer?.clock.clearTimeout(timer.handle);
    this.holdTimers.delete(placeKey);
  }

  /**
   * Gives the free slots at `placeKey` (a place, or PROBE_KEY) to waiters, each to the one whose relay
   * network holds fewest there, then whose relay host within it does (relays on other hosts of an honest
   * relay's own /16 are no network apart), the oldest first. Handing on may end a negotiation (a candidate
   * its RTCPeerConnection refuses), which releases it again: the state is read afresh for each.
   */
  private handOnFreed(placeKey: string): void {
    for (;;) {
      const holders = this.holdersByPlace.get(placeKey);
      const queue = this.waiting.get(placeKey);
      if (queue === undefined || this.isFull(placeKey)) {
        this.armHoldTimer(placeKey);
        return;
      }
      const slotsOf = (of: CandidateHolder): [number, number] => {
        const same = [...(holders?.keys() ?? [])].filter((holder) => holder.group === of.group);
        return [same.length, same.filter((holder) => holder.host === of.host).length];
      };
      let chosen = queue[0]!;
      let fewest = slotsOf(chosen.negotiation);
      for (const waiter of queue) {
        const slots = slotsOf(waiter.negotiation);
        if (slots[0] < fewest[0] || (slots[0] === fewest[0] && slots[1] < fewest[1])) [chosen, fewest] = [waiter, slots];
      }
      this.removeWaiter(placeKey, (waiter) => waiter === chosen);
      this.admit(chosen);
    }
  }

  /** A waiter taken out of its queue: its candidate handed on, or queued for the slot it still lacks. */
  private admit(waiter: Waiter): void {
    const { negotiation, target } = waiter;
    this.byNegotiation.get(negotiation)?.waits.delete(placeKeyOf(target));
    if (this.holders.has(targetKey(target))) {
      this.forgetIfEmpty(negotiation); // its host:port went to another meanwhile
      return;
    }
    // One let past PROBE_KEY may still find its place full (and the reverse): it waits there then.
    const fullAt = this.fullSlotFor(negotiation, target);
    if (fullAt !== undefined) {
      this.wait(waiter, fullAt);
      this.forgetIfEmpty(negotiation);
      return;
    }
    const wasProbing = this.byNegotiation.get(negotiation)?.places.has(probeKeyOf(negotiation)) ?? false;
    this.claim(negotiation, target);
    waiter.handOn(waiter.candidate);
    // Its other candidates waiting for a probing slot need none now.
    if (!wasProbing) this.readmitProbeWaiters((other) => other.negotiation === negotiation);
  }

  /**
   * The candidates waiting for a probing slot that `matches` picks and that need none any more (their
   * answer holds one, or their address answered): each goes on to its place, or waits there when full.
   */
  private readmitProbeWaiters(matches: (waiter: Waiter) => boolean): void {
    for (const key of [PROBE_KEY, DIAL_PROBE_KEY]) {
      for (const waiter of (this.waiting.get(key) ?? []).filter(matches)) {
        // Read afresh: handing one on may end its negotiation, which releases (and unqueues) the rest.
        if (!this.waiting.get(key)?.includes(waiter) || this.needsProbeSlot(waiter.negotiation, waiter.target)) continue;
        this.removeWaiter(key, (queued) => queued === waiter);
        this.admit(waiter);
      }
    }
  }
}

interface Held {
  targets: string[];
  hosts: Set<string>;
  /** The places it holds a slot at, and PROBE_KEY while it holds a probing slot. */
  places: Set<string>;
  /** The places it has a candidate waiting at → the slot it waits for (that place, or PROBE_KEY). */
  waits: Map<string, string>;
}
