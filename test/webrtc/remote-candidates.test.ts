import { describe, expect, it } from 'vitest';
import type { SignalData } from '../../src/webrtc/signal-messages.js';
import { candidateAddress, relayCandidateAddresses, screenRemoteSignal, type CandidateTarget } from '../../src/webrtc/remote-candidates.js';

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

  it('reads the addresses of relayed candidates, trickled or in an SDP, in one spelling; none of other types', () => {
    const relay = (address: string): string => `candidate:2 1 udp 41885439 ${address} 50000 typ relay raddr 0.0.0.0 rport 0 generation 0`;
    expect(relayCandidateAddresses(trickled(relay('203.0.113.5')))).toEqual(['203.0.113.5']);
    expect(relayCandidateAddresses(trickled(line('203.0.113.5')))).toEqual([]);
    const sdp = ['v=0', `a=${relay('2001:DB8::5')}`, `a=${line('10.0.0.2')}`, `a=${relay('[::ffff:203.0.113.6]')}`, ''].join('\r\n');
    expect(relayCandidateAddresses({ type: 'offer', sdp })).toEqual(['2001:db8::5', '203.0.113.6']);
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
