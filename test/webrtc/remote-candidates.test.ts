import { describe, expect, it } from 'vitest';
import type { SignalData } from '../../src/webrtc/signal-messages.js';
import {
  CandidateTargets,
  candidateAddress,
  screenRemoteSignal,
  WEBRTC_NEGOTIATIONS_PER_REMOTE_ADDRESS,
  WEBRTC_WAITING_CANDIDATES,
  WEBRTC_WAITING_CANDIDATES_PER_NEGOTIATION,
  type CandidateTarget,
} from '../../src/webrtc/remote-candidates.js';

const line = (address: string, transport = 'udp'): string => `candidate:1 1 ${transport} 2122260223 ${address} 9 typ host generation 0`;
const trickled = (candidate: string) => ({ type: 'candidate' as const, candidate: { candidate, sdpMid: '0', sdpMLineIndex: 0 } });

describe('screenRemoteSignal', () => {
  it('drops trickled candidates naming loopback, unspecified, multicast or non-mDNS names, keeps LAN, public and .local ones', () => {
    for (const address of ['127.0.0.1', '127.9.9.9', '::1', '[::1]', '0.0.0.0', '::', '224.0.0.251', 'localhost', 'evil.example.com', '127.1']) {
      expect(screenRemoteSignal(trickled(line(address, 'tcp'))), address).toMatchObject({ data: undefined, refused: 1 });
    }
    for (const address of ['192.168.1.7', '10.0.0.2', 'fd00::2', 'fe80::1', '198.51.100.4', '2001:db8::1', '6f1c2a3e-1111-2222-3333-444455556666.local']) {
      const data = trickled(line(address));
      expect(screenRemoteSignal(data), address).toEqual({ data, candidates: 1, refused: 0, tcp: 0 });
    }
  });

  it('drops .local names too without allowMdns', () => {
    const named = trickled(line('6f1c2a3e-1111-2222-3333-444455556666.local'));
    expect(screenRemoteSignal(named, { allowMdns: false })).toMatchObject({ data: undefined, refused: 1 });
    expect(screenRemoteSignal(trickled(line('10.0.0.2')), { allowMdns: false })).toMatchObject({ candidates: 1 });
  });

  it('lets loopback through only with allowLoopback, and the end-of-candidates signal always', () => {
    expect(screenRemoteSignal(trickled(line('127.0.0.1')), { allowLoopback: true }).candidates).toBe(1);
    expect(screenRemoteSignal(trickled(line('0.0.0.0')), { allowLoopback: true }).refused).toBe(1);
    expect(screenRemoteSignal(trickled(''))).toMatchObject({ candidates: 0, refused: 0 });
  });

  it('takes refused a=candidate lines out of an SDP and counts the rest', () => {
    const sdp = ['v=0', 'm=application 9 UDP/DTLS/SCTP webrtc-datachannel', `a=${line('127.0.0.1')}`, `a=${line('192.168.1.7')}`, `a=${line('localhost', 'tcp')}`, 'a=mid:0', ''].join('\r\n');
    const screened = screenRemoteSignal({ type: 'offer', sdp });
    expect(screened.candidates).toBe(1);
    expect(screened.refused).toBe(2);
    expect(screened.data).toEqual({ type: 'offer', sdp: ['v=0', 'm=application 9 UDP/DTLS/SCTP webrtc-datachannel', `a=${line('192.168.1.7')}`, 'a=mid:0', ''].join('\r\n') });
    const clean = { type: 'answer' as const, sdp: 'v=0\r\na=mid:0\r\n' };
    expect(screenRemoteSignal(clean)).toEqual({ data: clean, candidates: 0, refused: 0, tcp: 0 });
  });

  it('finds candidates in an SDP with bare LF line endings too (WebRTC stacks accept them)', () => {
    const sdp = ['v=0', 'm=application 9 UDP/DTLS/SCTP webrtc-datachannel', `a=${line('127.0.0.1', 'tcp')}`, `a=${line('10.0.0.2')}`, 'a=mid:0', ''].join('\n');
    const screened = screenRemoteSignal({ type: 'offer', sdp });
    expect([screened.candidates, screened.refused]).toEqual([1, 1]);
    expect(screened.data).toEqual({ type: 'offer', sdp: ['v=0', 'm=application 9 UDP/DTLS/SCTP webrtc-datachannel', `a=${line('10.0.0.2')}`, 'a=mid:0', ''].join('\r\n') });
  });

  it('drops candidates on ports below 1024 but 9 (RFC 6544 active TCP candidates), and on ports that are no number', () => {
    const onPort = (port: string, transport = 'udp'): string => `candidate:1 1 ${transport} 2122260223 192.168.1.7 ${port} typ host generation 0`;
    for (const port of ['80', '443', '22', '0', '1023', '65536', '0x50', '-1', '80a', '000080', '']) {
      expect(screenRemoteSignal(trickled(onPort(port, 'tcp'))), port).toMatchObject({ data: undefined, refused: 1 });
    }
    for (const port of ['9', '1024', '50000', '65535']) expect(screenRemoteSignal(trickled(onPort(port))), port).toMatchObject({ candidates: 1 });
    const sdp = ['v=0', `a=${onPort('80')}`, `a=${onPort('50000')}`, ''].join('\r\n');
    expect(screenRemoteSignal({ type: 'offer', sdp })).toMatchObject({ candidates: 1, refused: 1, data: { sdp: ['v=0', `a=${onPort('50000')}`, ''].join('\r\n') } });
  });

  it('keeps at most tcpRoom TCP candidates, trickled or in an SDP, and counts those it keeps; refused ones take no room', () => {
    expect(screenRemoteSignal(trickled(line('10.0.0.2', 'tcp')), { tcpRoom: 1 })).toMatchObject({ candidates: 1, tcp: 1 });
    for (const transport of ['TCP', 'ssltcp', 'tls']) {
      expect(screenRemoteSignal(trickled(line('10.0.0.2', transport)), { tcpRoom: 0 }), transport).toMatchObject({ data: undefined, refused: 1 });
    }
    expect(screenRemoteSignal(trickled(line('10.0.0.2')), { tcpRoom: 0 })).toMatchObject({ candidates: 1, tcp: 0 });
    const sdp = ['v=0', `a=${line('127.0.0.1', 'tcp')}`, `a=${line('10.0.0.2', 'tcp')}`, `a=${line('10.0.0.3')}`, `a=${line('10.0.0.4', 'tcp')}`, ''].join('\r\n');
    const screened = screenRemoteSignal({ type: 'answer', sdp }, { tcpRoom: 1 });
    expect(screened).toMatchObject({ candidates: 2, refused: 2, tcp: 1 });
    expect(screened.data).toEqual({ type: 'answer', sdp: ['v=0', `a=${line('10.0.0.2', 'tcp')}`, `a=${line('10.0.0.3')}`, ''].join('\r\n') });
  });

  it('asks takesTarget last, with the target in one spelling, and drops what it refuses', () => {
    const asked: CandidateTarget[] = [];
    const takesTarget = (target: CandidateTarget): boolean => {
      asked.push(target);
      return target.port !== 40_001;
    };
    const onPort = (address: string, port: number, transport = 'udp'): string => `candidate:1 1 ${transport} 2122260223 ${address} ${port} typ host generation 0`;
    const sdp = ['v=0', `a=${onPort('[0:0::FFFF:10.0.0.2]', 40_000)}`, `a=${onPort('10.0.0.3', 40_001, 'SSLTCP')}`, `a=${onPort('127.0.0.1', 40_002)}`, `a=${onPort('ABC.local', 40_003)}`, ''].join('\r\n');
    const screened = screenRemoteSignal({ type: 'offer', sdp }, { takesTarget });
    expect(asked).toEqual([
      { transport: 'udp', host: '10.0.0.2', port: 40_000 },
      { transport: 'tcp', host: '10.0.0.3', port: 40_001 },
      { transport: 'udp', host: 'abc.local', port: 40_003 },
    ]);
    expect(screened).toMatchObject({ candidates: 2, refused: 2, tcp: 0 });
    expect(screenRemoteSignal(trickled(onPort('10.0.0.3', 40_001)), { takesTarget })).toMatchObject({ data: undefined, refused: 1 });
  });

  it('keeps candidates at our own addresses only on our ephemeral ports (ownMachine), others anywhere', () => {
    const ownMachine = { addresses: () => new Set(['192.0.2.2', 'fd00::2']), ephemeralPorts: { min: 32_768, max: 60_999 } };
    const at = (address: string, port: number, transport = 'udp'): ReturnType<typeof trickled> =>
      trickled(`candidate:1 1 ${transport} 2122260223 ${address} ${port} typ host generation 0`);
    for (const [address, port] of [['192.0.2.2', 11_211], ['192.0.2.2', 32_767], ['192.0.2.2', 61_000], ['[FD00:0::2]', 8125], ['::ffff:192.0.2.2', 3000]] as const) {
      expect(screenRemoteSignal(at(address, port), { ownMachine }), `${address} ${port}`).toMatchObject({ data: undefined, refused: 1 });
    }
    expect(screenRemoteSignal(at('192.0.2.2', 5000, 'tcp'), { ownMachine })).toMatchObject({ refused: 1 });
    for (const [address, port] of [['192.0.2.2', 32_768], ['192.0.2.2', 60_999], ['192.0.2.3', 11_211], ['fd00::3', 8125]] as const) {
      expect(screenRemoteSignal(at(address, port), { ownMachine }), `${address} ${port}`).toMatchObject({ candidates: 1 });
    }
    expect(screenRemoteSignal(at('192.0.2.2', 9, 'tcp'), { ownMachine })).toMatchObject({ candidates: 1 });
  });

  it('reads the address of a candidate line, with or without a= and brackets; none from a short line', () => {
    expect(candidateAddress(line('10.0.0.2'))).toBe('10.0.0.2');
    expect(candidateAddress(`a=${line('[fd00::2]')}`)).toBe('fd00::2');
    expect(candidateAddress('candidate:1 1 udp')).toBeUndefined();
    expect(candidateAddress('not a candidate at all but long')).toBeUndefined();
  });
});

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

  it(`keeps at most ${WEBRTC_WAITING_CANDIDATES} waiting candidates in all`, () => {
    const targets = new CandidateTargets(1);
    targets.take({}, udp(40_000));
    for (let i = 0; i < WEBRTC_WAITING_CANDIDATES + 10; i++) targets.take({}, udp(41_000 + i), later([], 'x', 41_000 + i));
    expect(targets.waitingSize).toBe(WEBRTC_WAITING_CANDIDATES);
  });
});

describe('screenRemoteSignal hands takesTarget each candidate as a trickled one', () => {
  it('with its media section index and mid for a line of an SDP, as sent for a trickled one', () => {
    const seen: SignalData[] = [];
    const sdp = ['v=0', 'm=application 9 UDP/DTLS/SCTP webrtc-datachannel', 'a=candidate:1 1 udp 1 192.0.2.7 40000 typ host', 'a=mid:0', ''].join('\r\n');
    screenRemoteSignal({ type: 'offer', sdp }, { takesTarget: (_target, candidate) => seen.push(candidate) > 0 });
    const trickledOne: SignalData = { type: 'candidate', candidate: { candidate: 'candidate:2 1 udp 1 192.0.2.7 40001 typ host', sdpMid: '0' } };
    screenRemoteSignal(trickledOne, { takesTarget: (_target, candidate) => seen.push(candidate) > 0 });
    expect(seen).toEqual([{ type: 'candidate', candidate: { candidate: 'candidate:1 1 udp 1 192.0.2.7 40000 typ host', sdpMLineIndex: 0, sdpMid: '0' } }, trickledOne]);
  });
});
