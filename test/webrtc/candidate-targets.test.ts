/** CandidateTargets (src/webrtc/candidate-targets.ts): which negotiation's remote candidates go to its RTCPeerConnection, and when. */
import { describe, expect, it } from 'vitest';
import {
  CandidateTargets,
  WEBRTC_CROWDED_ADDRESS_HOLD_MS,
  WEBRTC_NEGOTIATIONS_PER_REMOTE_ADDRESS,
  WEBRTC_PROBING_ANSWERS,
  WEBRTC_UNANSWERED_CHECKS_MS,
  WEBRTC_UNANSWERED_CHECKS_POLL_MS,
  WEBRTC_WAITING_CANDIDATES,
  WEBRTC_WAITING_CANDIDATES_PER_NEGOTIATION,
  type CandidateHolder,
} from '../../src/webrtc/candidate-targets.js';
import type { CandidateTarget } from '../../src/webrtc/remote-candidates.js';
import type { SignalData } from '../../src/webrtc/signal-messages.js';
import type { Clock, TimerHandle } from '../../src/util/clock.js';

describe('CandidateTargets', () => {
  const udp = (host: string, port: number): CandidateTarget => ({ transport: 'udp', host, port });
  const tcp = (host: string, port: number): CandidateTarget => ({ transport: 'tcp', host, port });

  it('gives a host:port to one negotiation at a time, and frees it when that one is released', () => {
    const targets = new CandidateTargets();
    const [first, second] = [{}, {}];
    expect(targets.take(first, udp('192.0.2.7', 40_000))).toBe(true);
    expect(targets.take(second, udp('192.0.2.7', 40_000))).toBe(false);
    expect(targets.take(second, udp('192.0.2.7', 40_001))).toBe(true); // another port: another socket
    expect(targets.take(second, tcp('192.0.2.7', 40_000))).toBe(true); // another transport
    targets.release(first);
    expect(targets.take(second, udp('192.0.2.8', 40_000))).toBe(true);
    const third = {};
    expect(targets.take(third, udp('192.0.2.7', 40_000))).toBe(true);
    targets.release(second);
    targets.release(third);
    expect(targets.size).toBe(0);
  });

  it('lets one negotiation take one candidate per transport and address: an honest remote names one per local address', () => {
    const targets = new CandidateTargets();
    const negotiation = {};
    expect(targets.take(negotiation, udp('192.0.2.7', 40_000))).toBe(true);
    expect(targets.take(negotiation, udp('192.0.2.7', 40_000))).toBe(false);
    expect(targets.take(negotiation, udp('192.0.2.7', 40_001))).toBe(false);
    expect(targets.take(negotiation, udp('fd00::7', 40_001))).toBe(true);
    expect(targets.take(negotiation, tcp('192.0.2.7', 40_002))).toBe(true);
    expect(targets.take(negotiation, tcp('192.0.2.7', 40_003))).toBe(false);
    // A `tcptype active` candidate (port 9) is never connected to: it takes nothing, any number of times.
    expect(targets.take(negotiation, tcp('192.0.2.7', 9))).toBe(true);
    expect(targets.take({}, tcp('192.0.2.7', 9))).toBe(true);
    expect(targets.size).toBe(3);
  });
});

describe('CandidateTargets at one crowded address', () => {
  const udp = (port: number, host = '192.0.2.7'): CandidateTarget => ({ transport: 'udp', host, port });
  const relayLine = (port: number): SignalData => ({ type: 'candidate', candidate: { candidate: `candidate:1 1 udp 1 192.0.2.7 ${port} typ relay`, sdpMLineIndex: 0 } });
  /** A waiting candidate recording where it was handed on. */
  const later = (handedOn: string[], name: string, port: number) => ({ candidate: relayLine(port), handOn: () => handedOn.push(name) });

  it(`lets ${WEBRTC_NEGOTIATIONS_PER_REMOTE_ADDRESS} negotiations hold one address; the next waits and is handed on when one is released`, () => {
    const targets = new CandidateTargets();
    const holders = Array.from({ length: WEBRTC_NEGOTIATIONS_PER_REMOTE_ADDRESS }, () => ({}));
    holders.forEach((holder, i) => expect(targets.take(holder, udp(40_000 + i))).toBe(true));
    const handedOn: string[] = [];
    const fifth = {};
    expect(targets.take(fifth, udp(41_000), later(handedOn, 'fifth', 41_000))).toBe(false);
    expect(targets.take(fifth, udp(41_000, '192.0.2.8'))).toBe(true); // another address is free
    expect(targets.take({}, { transport: 'tcp', host: '192.0.2.7', port: 42_000 }, later(handedOn, 'tcp', 42_000))).toBe(true); // another transport
    expect(targets.waitingSize).toBe(1);
    targets.release(holders[0]!);
    expect(handedOn).toEqual(['fifth']);
    expect(targets.waitingSize).toBe(0);
    // Now held by it: the address is full again.
    expect(targets.take({}, udp(43_000), later(handedOn, 'sixth', 43_000))).toBe(false);
    expect(targets.waitingSize).toBe(1);
  });

  it('hands a freed slot to the waiter whose relay network holds the fewest there, the oldest first; a released waiter is forgotten', () => {
    const targets = new CandidateTargets(2);
    const [attacker1, attacker2] = [{ group: 'evil' }, { group: 'evil' }];
    targets.take(attacker1, udp(40_000));
    targets.take(attacker2, udp(40_001));
    const handedOn: string[] = [];
    const [evil3, honest, gone] = [{ group: 'evil' }, { group: 'honest' }, { group: 'other' }];
    targets.take(evil3, udp(40_002), later(handedOn, 'evil3', 40_002));
    targets.take(gone, udp(40_003), later(handedOn, 'gone', 40_003));
    targets.take(honest, udp(40_004), later(handedOn, 'honest', 40_004));
    targets.release(gone); // ended while waiting
    targets.release(attacker1);
    expect(handedOn).toEqual(['honest']); // evil still holds one there, honest none
    targets.release(attacker2);
    expect(handedOn).toEqual(['honest', 'evil3']);
    expect(targets.waitingSize).toBe(0);
  });

  it(`keeps at most ${WEBRTC_WAITING_CANDIDATES_PER_NEGOTIATION} waiting UDP candidates a negotiation, one per address, and no TCP ones`, () => {
    const targets = new CandidateTargets(1);
    const handedOn: string[] = [];
    for (let address = 0; address < 10; address++) targets.take({}, udp(40_000, `192.0.2.${address}`));
    const waiter = {};
    for (let address = 0; address < 10; address++) {
      targets.take(waiter, udp(41_000, `192.0.2.${address}`), later(handedOn, `a${address}`, 41_000));
      targets.take(waiter, udp(41_001, `192.0.2.${address}`), later(handedOn, `b${address}`, 41_001));
    }
    targets.take({}, { transport: 'tcp', host: '192.0.2.20', port: 40_000 });
    targets.take(waiter, { transport: 'tcp', host: '192.0.2.20', port: 41_000 }, later(handedOn, 'tcp', 41_000));
    expect(targets.waitingSize).toBe(WEBRTC_WAITING_CANDIDATES_PER_NEGOTIATION);
  });

  it('takes no turns at the address of our own relayed candidates (our TURN server): its waiters are handed on, and it holds any number', () => {
    const targets = new CandidateTargets(1);
    const handedOn: string[] = [];
    targets.take({}, udp(40_000));
    expect(targets.take({}, udp(40_001), later(handedOn, 'waiter', 40_001))).toBe(false);
    targets.take({}, udp(40_000, '192.0.2.8'));
    expect(targets.take({}, udp(40_001, '192.0.2.8'))).toBe(false); // not ours: capped
    targets.noteOwnRelay('192.0.2.7');
    expect([handedOn, targets.waitingSize]).toEqual([['waiter'], 0]);
    for (let i = 0; i < 10; i++) expect(targets.take({}, udp(41_000 + i))).toBe(true);
    expect(targets.take({}, udp(41_000))).toBe(false); // a host:port still goes to one negotiation at a time
    expect(targets.take({}, { transport: 'tcp', host: '192.0.2.7', port: 40_000 })).toBe(true);
    expect(targets.take({}, { transport: 'tcp', host: '192.0.2.7', port: 40_001 })).toBe(false); // UDP only: TURN relays UDP
  });

  it(`keeps at most ${WEBRTC_WAITING_CANDIDATES} waiting candidates in all`, () => {
    const targets = new CandidateTargets(1);
    targets.take({}, udp(40_000));
    for (let i = 0; i < WEBRTC_WAITING_CANDIDATES + 10; i++) targets.take({}, udp(41_000 + i), later([], 'x', 41_000 + i));
    expect(targets.waitingSize).toBe(WEBRTC_WAITING_CANDIDATES);
  });

  it(`makes room among ${WEBRTC_WAITING_CANDIDATES} waiting candidates of one relay network for another network's, which goes first`, () => {
    const targets = new CandidateTargets(2);
    const holders = [{ group: 'evil' }, { group: 'evil' }];
    holders.forEach((holder, i) => targets.take(holder, udp(40_000 + i)));
    const handedOn: string[] = [];
    for (let i = 0; i < WEBRTC_WAITING_CANDIDATES; i++) targets.take({ group: 'evil' }, udp(41_000 + i), later(handedOn, `evil${i}`, 41_000 + i));
    targets.take({ group: 'honest' }, udp(50_000), later(handedOn, 'honest', 50_000));
    expect(targets.waitingSize).toBe(WEBRTC_WAITING_CANDIDATES);
    targets.release(holders[0]!);
    expect(handedOn).toEqual(['honest']); // before: dropped, and the queue's oldest (evil0) handed on
  });
});


/** A clock that moves only when told to, firing the timers that come due. */
function manualClock(): Clock & { advance(ms: number): void } {
  let now = 0;
  let nextId = 0;
  const timers = new Map<number, { at: number; callback: () => void }>();
  return {
    now: () => now,
    setTimeout: (callback, delayMs) => {
      timers.set(++nextId, { at: now + delayMs, callback });
      return nextId as unknown as TimerHandle;
    },
    clearTimeout: (handle) => void timers.delete(handle as unknown as number),
    setInterval: () => {
      throw new Error('not used');
    },
    clearInterval: () => {},
    afterBurst: (callback) => callback(),
    advance(ms) {
      const until = now + ms;
      for (;;) {
        const due = [...timers].filter(([, timer]) => timer.at <= until).sort(([, a], [, b]) => a.at - b.at)[0];
        if (due === undefined) break;
        timers.delete(due[0]);
        now = due[1].at;
        due[1].callback();
      }
      now = until;
    },
  };
}

describe(`CandidateTargets holders of a crowded address`, () => {
  const udp = (port: number): CandidateTarget => ({ transport: 'udp', host: '192.0.2.7', port });
  const candidate: SignalData = { type: 'candidate', candidate: { candidate: 'candidate:1 1 udp 1 192.0.2.7 41000 typ relay', sdpMLineIndex: 0 } };

  it(`are ended after ${WEBRTC_CROWDED_ADDRESS_HOLD_MS} ms holding a slot while others wait (not before, and not while none waits); the slot goes on`, () => {
    const clock = manualClock();
    const targets = new CandidateTargets(2);
    const ended: string[] = [];
    const handedOn: string[] = [];
    const holder = (name: string): CandidateHolder => {
      const it: CandidateHolder = {
        clock,
        overstayed: () => {
          ended.push(name);
          targets.release(it);
        },
      };
      return it;
    };
    const [first, second] = [holder('first'), holder('second')];
    targets.take(first, udp(40_000));
    clock.advance(10_000); // nobody waits: held as long as it lasts
    targets.take(second, udp(40_001));
    expect(ended).toEqual([]);
    const waiter = holder('waiter');
    targets.take(waiter, udp(40_002), { candidate, handOn: () => handedOn.push('waiter') });
    clock.advance(1); // first has held 10 s: its time was up when the waiter came
    expect([ended, handedOn]).toEqual([['first'], ['waiter']]);
    targets.take(holder('late'), udp(40_003), { candidate, handOn: () => handedOn.push('late') });
    clock.advance(WEBRTC_CROWDED_ADDRESS_HOLD_MS - 2);
    expect(ended).toEqual(['first']);
    clock.advance(1); // second's 5 s since it took the slot
    expect([ended, handedOn]).toEqual([['first', 'second'], ['waiter', 'late']]);
    clock.advance(60_000); // the waiter and late hold the two slots; no one waits any more
    expect(ended).toEqual(['first', 'second']);
    expect(targets.waitingSize).toBe(0);
  });

  it(`are ended ${WEBRTC_UNANSWERED_CHECKS_MS} ms after taking a slot others wait for when their checks got no answer at all; answered ones keep theirs`, async () => {
    const clock = manualClock();
    const targets = new CandidateTargets(2);
    const ended: string[] = [];
    const handedOn: string[] = [];
    const holder = (name: string, unanswered: boolean): CandidateHolder => {
      const it: CandidateHolder = {
        clock,
        checksUnanswered: () => Promise.resolve(unanswered),
        overstayed: (why) => {
          ended.push(`${name} ${why}`);
          targets.release(it);
        },
      };
      return it;
    };
    const settle = async (): Promise<void> => {
      for (let i = 0; i < 5; i++) await Promise.resolve();
    };
    const [silent, answered] = [holder('silent', true), holder('answered', false)];
    targets.take(silent, udp(40_000));
    targets.take(answered, udp(40_001));
    clock.advance(WEBRTC_UNANSWERED_CHECKS_MS - WEBRTC_UNANSWERED_CHECKS_POLL_MS); // nobody waits: nothing polled
    await settle();
    expect(ended).toEqual([]);
    targets.take(holder('waiter', true), udp(40_002), { candidate, handOn: () => handedOn.push('waiter') });
    clock.advance(WEBRTC_UNANSWERED_CHECKS_POLL_MS);
    await settle();
    // Both held theirs 1.5 s (not the 5 s hold): only the one whose checks got no answer is ended.
    expect([ended, handedOn]).toEqual([['silent unanswered'], ['waiter']]);
    clock.advance(WEBRTC_UNANSWERED_CHECKS_MS);
    await settle();
    expect(ended).toEqual(['silent unanswered']); // no one waits any more
  });
});

describe('CandidateTargets counting places', () => {
  const candidate: SignalData = { type: 'candidate', candidate: { candidate: 'candidate:1 1 udp 1 2001:db8:1:2::c 40000 typ host', sdpMLineIndex: 0 } };
  it(`counts an IPv6 /64 as one address: ${WEBRTC_NEGOTIATIONS_PER_REMOTE_ADDRESS} negotiations at 5 addresses of it, the 5th waits; one negotiation at two of its addresses takes one slot`, () => {
    const targets = new CandidateTargets();
    const at = (host: string): CandidateTarget => ({ transport: 'udp', host, port: 40_000 });
    const holders = Array.from({ length: WEBRTC_NEGOTIATIONS_PER_REMOTE_ADDRESS - 1 }, () => ({}));
    holders.forEach((holder, i) => expect(targets.take(holder, at(`2001:db8:1:2::${i + 1}`))).toBe(true));
    const twoAddresses = {};
    expect(targets.take(twoAddresses, at('2001:db8:1:2::a'))).toBe(true);
    expect(targets.take(twoAddresses, at('2001:db8:1:2::b'))).toBe(true); // its own slot there
    const handedOn: string[] = [];
    expect(targets.take({}, at('2001:db8:1:2::c'), { candidate, handOn: () => handedOn.push('fifth') })).toBe(false);
    expect(targets.take({}, at('2001:db8:1:3::1'))).toBe(true); // another /64
    expect(targets.waitingSize).toBe(1);
    targets.release(twoAddresses);
    expect(handedOn).toEqual(['fifth']);
  });
});

describe(`CandidateTargets probing answers (${WEBRTC_PROBING_ANSWERS} at once at addresses that never answered)`, () => {
  const at = (address: number, port = 40_000): CandidateTarget => ({ transport: 'udp', host: `198.51.100.${address}`, port });
  const line = (address: number): SignalData => ({ type: 'candidate', candidate: { candidate: `candidate:1 1 udp 1 198.51.100.${address} 40000 typ host`, sdpMLineIndex: 0 } });
  const later = (handedOn: string[], name: string, address: number) => ({ candidate: line(address), handOn: () => handedOn.push(name) });

  it('lets the rest wait, and hands a freed slot to the relay network, then the relay host, holding the fewest, the oldest first', () => {
    const targets = new CandidateTargets(WEBRTC_NEGOTIATIONS_PER_REMOTE_ADDRESS, WEBRTC_CROWDED_ADDRESS_HOLD_MS, 3);
    const attackers = [{ group: 'cloud', host: 'a' }, { group: 'cloud', host: 'b' }, { group: 'cloud', host: 'a' }];
    attackers.forEach((attacker, i) => expect(targets.take(attacker, at(i))).toBe(true));
    const handedOn: string[] = [];
    const [waitingAttacker, honest] = [{ group: 'cloud', host: 'b' }, { group: 'cloud', host: 'c' }];
    expect(targets.take(waitingAttacker, at(10), later(handedOn, 'attacker', 10))).toBe(false);
    expect(targets.take(honest, at(11), later(handedOn, 'honest', 11))).toBe(false);
    // A second candidate of a probing answer takes no other slot, nor does a dial or an address that answered.
    expect(targets.take(attackers[0]!, at(20))).toBe(true);
    expect(targets.take({ initiator: true }, at(21))).toBe(true);
    targets.noteAnswered('198.51.100.22');
    expect(targets.take({}, at(22))).toBe(true);
    expect(targets.waitingSize).toBe(2);
    targets.release(attackers[0]!);
    expect(handedOn).toEqual(['honest']); // its host c holds none there, b one
    targets.release(attackers[1]!);
    expect(handedOn).toEqual(['honest', 'attacker']);
  });

  it('holds answers\' TCP candidates at addresses that never answered to the same slots; one finding them full is dropped, not kept waiting', () => {
    const targets = new CandidateTargets(WEBRTC_NEGOTIATIONS_PER_REMOTE_ADDRESS, WEBRTC_CROWDED_ADDRESS_HOLD_MS, 1);
    const tcpAt = (address: number): CandidateTarget => ({ transport: 'tcp', host: `198.51.100.${address}`, port: 40_000 });
    const holder = {};
    expect(targets.take(holder, tcpAt(1))).toBe(true);
    expect(targets.take(holder, at(2))).toBe(true); // its one probing slot covers its UDP candidates too
    const handedOn: string[] = [];
    // Before: every answer's TCP candidates were handed on, at any number of addresses at once.
    expect(targets.take({}, tcpAt(3), later(handedOn, 'tcp', 3))).toBe(false);
    expect(targets.take({}, at(4), later(handedOn, 'udp', 4))).toBe(false);
    expect(targets.waitingSize).toBe(1); // the UDP one
    // A dial's, or one at an address that answered us (over UDP), takes no probing slot.
    expect(targets.take({ initiator: true }, tcpAt(5))).toBe(true);
    targets.noteAnswered('198.51.100.6');
    expect(targets.take({}, tcpAt(6))).toBe(true);
    targets.release(holder);
    expect(handedOn).toEqual(['udp']);
  });

  it('hands on the other waiting candidates of an answer let in, to their places, where those have room', () => {
    const targets = new CandidateTargets(1, WEBRTC_CROWDED_ADDRESS_HOLD_MS, 1);
    const holder = {};
    targets.take(holder, at(1));
    const dial = { initiator: true };
    targets.take(dial, at(3)); // a dial holds address 3
    const handedOn: string[] = [];
    const waiter = {};
    [2, 3, 4].forEach((address) => expect(targets.take(waiter, at(address, 41_000), later(handedOn, `a${address}`, address))).toBe(false));
    targets.release(holder);
    expect(handedOn).toEqual(['a2', 'a4']); // address 3 is full: that one waits there
    expect(targets.waitingSize).toBe(1);
    expect(targets.take({}, at(5))).toBe(false); // the waiter probes: no slot left
    targets.release(dial);
    expect(handedOn).toEqual(['a2', 'a4', 'a3']);
  });

  it('keeps every candidate of an honest answer waiting for a probing slot (host, srflx and relay ones over IPv4 and IPv6), its relay ones last', () => {
    const targets = new CandidateTargets(WEBRTC_NEGOTIATIONS_PER_REMOTE_ADDRESS, WEBRTC_CROWDED_ADDRESS_HOLD_MS, 1);
    const holder = {};
    targets.take(holder, at(1));
    const handedOn: string[] = [];
    const honest = {};
    const addresses = ['10.0.0.5', '172.17.0.1', 'fd00::5', '203.0.113.5', '2001:db8:5::5', '198.51.100.50', '2001:db8:6::6'];
    for (const host of addresses) targets.take(honest, { transport: 'udp', host, port: 40_000 }, { candidate: line(1), handOn: () => handedOn.push(host) });
    targets.release(holder);
    expect(handedOn).toEqual(addresses); // before: the first 4, the relay ones (last two) dropped
  });

  it('hands on the candidates waiting for a probing slot at an address once a peer there connects, or it is our own TURN server\'s', () => {
    const targets = new CandidateTargets(WEBRTC_NEGOTIATIONS_PER_REMOTE_ADDRESS, WEBRTC_CROWDED_ADDRESS_HOLD_MS, 1);
    targets.take({}, at(1));
    const handedOn: string[] = [];
    targets.take({}, at(2), later(handedOn, 'two', 2));
    targets.take({}, at(3), later(handedOn, 'three', 3));
    targets.noteAnswered('198.51.100.3');
    expect([handedOn, targets.waitingSize]).toEqual([['three'], 1]);
    targets.noteOwnRelay('198.51.100.2'); // our TURN server's: no probing slot either
    expect([handedOn, targets.waitingSize]).toEqual([['three', 'two'], 0]);
  });
});

