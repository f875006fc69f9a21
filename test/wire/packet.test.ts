import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { PacketDecoder, writeControlPacket, writeMsgPacket, type PacketHandler } from '../../src/wire/packet.js';
import { PacketKind } from '../../src/wire/constants.js';
import { ProtocolError } from '../../src/errors.js';

type Event = ['msg', number, string, boolean] | ['ping'] | ['pong'];

function recorder(): { handler: PacketHandler; events: Event[] } {
  const events: Event[] = [];
  return {
    events,
    handler: {
      onMsgPacket: (channelId, payload, isLast) => events.push(['msg', channelId, Buffer.from(payload).toString('hex'), isLast]),
      onPing: () => events.push(['ping']),
      onPong: () => events.push(['pong']),
    },
  };
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

describe('packet encoding', () => {
  it('pins the wire bytes of message, ping and pong packets', () => {
    const buffer = new Uint8Array(32);
    let offset = writeMsgPacket(buffer, 0, 0x30, new Uint8Array([0xaa, 0xbb, 0xcc]), 0, 3, true);
    offset = writeControlPacket(buffer, offset, PacketKind.Ping);
    offset = writeMsgPacket(buffer, offset, 0x01, new Uint8Array([9, 8, 7, 6]), 1, 2, false);
    offset = writeControlPacket(buffer, offset, PacketKind.Pong);
    expect(hex(buffer.subarray(0, offset))).toBe('02300003aabbcc' + '03' + '010100020807' + '04');
  });

  it('writes the length big-endian up to 65535', () => {
    const payload = new Uint8Array(0xffff).fill(7);
    const buffer = new Uint8Array(0xffff + 4);
    writeMsgPacket(buffer, 0, 0xff, payload, 0, payload.length, true);
    expect(hex(buffer.subarray(0, 4))).toBe('02ffffff');
  });
});

describe('PacketDecoder', () => {
  const stream = Buffer.from('02300003aabbcc' + '03' + '010100020807' + '04' + '02050000', 'hex');
  const expected: Event[] = [['msg', 0x30, 'aabbcc', true], ['ping'], ['msg', 1, '0807', false], ['pong'], ['msg', 5, '', true]];

  it('decodes back-to-back packets in one chunk', () => {
    const { handler, events } = recorder();
    expect(new PacketDecoder(handler).push(stream)).toBeUndefined();
    expect(events).toEqual(expected);
  });

  it('decodes identically when the stream is split at every byte boundary', () => {
    for (let split = 0; split <= stream.length; split++) {
      for (let second = split; second <= stream.length; second++) {
        const { handler, events } = recorder();
        const decoder = new PacketDecoder(handler);
        expect(decoder.push(stream.subarray(0, split))).toBeUndefined();
        expect(decoder.push(stream.subarray(split, second))).toBeUndefined();
        expect(decoder.push(stream.subarray(second))).toBeUndefined();
        expect(events).toEqual(expected);
        expect(decoder.bufferedBytes).toBe(0);
      }
    }
  });

  it('decodes one byte at a time', () => {
    const { handler, events } = recorder();
    const decoder = new PacketDecoder(handler);
    for (const byte of stream) expect(decoder.push(Uint8Array.of(byte))).toBeUndefined();
    expect(events).toEqual(expected);
  });

  it('returns ERR_MALFORMED_PACKET for an unknown kind and ignores everything after it', () => {
    const { handler, events } = recorder();
    const decoder = new PacketDecoder(handler);
    const error = decoder.push(Buffer.from('03' + '07' + '03', 'hex'));
    expect(error).toBeInstanceOf(ProtocolError);
    expect(error?.code).toBe('ERR_MALFORMED_PACKET');
    expect(decoder.push(Buffer.from('03', 'hex'))).toBeUndefined();
    expect(events).toEqual([['ping']]);
  });

  it('never throws, and never holds more than one packet, whatever bytes arrive', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 }), (chunks) => {
        const decoder = new PacketDecoder({ onMsgPacket: () => undefined, onPing: () => undefined, onPong: () => undefined });
        for (const chunk of chunks) {
          const result = decoder.push(chunk);
          if (result !== undefined) {
            expect(result.code).toBe('ERR_MALFORMED_PACKET');
            return;
          }
          expect(decoder.bufferedBytes).toBeLessThanOrEqual(0xffff + 4);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('packet decoder suspended by its handler', () => {
  it('hands on nothing more from the chunk in hand once suspended, and the rest, in order, on resume', () => {
    const events: string[] = [];
    const decoder: PacketDecoder = new PacketDecoder({
      onMsgPacket: (channelId, payload) => {
        events.push(hex(payload));
        if (events.length === 2) decoder.suspend();
      },
      onPing: () => events.push('ping'),
      onPong: () => events.push('pong'),
    });
    const buffer = new Uint8Array(64);
    let offset = 0;
    for (let i = 1; i <= 5; i++) offset = writeMsgPacket(buffer, offset, 0x40, new Uint8Array([i]), 0, 1, true);
    offset = writeControlPacket(buffer, offset, PacketKind.Ping);
    const chunk = buffer.slice(0, offset);
    expect(decoder.push(chunk.subarray(0, 10))).toBeUndefined(); // two packets and half a third
    expect(decoder.push(chunk.subarray(10))).toBeUndefined(); // arrives while suspended: kept
    chunk.fill(0xee); // the caller reuses its buffer: what was kept is a copy
    expect(events).toEqual(['01', '02']);
    expect(decoder.resume()).toBeUndefined();
    expect(events).toEqual(['01', '02', '03', '04', '05', 'ping']);
  });

  it('keeps what it parked where it lies when suspended again while handing it on (no copy of the rest per message)', () => {
    // A 64 KiB frame of 13,000 one-byte messages read one at a time (an inbox of one): each resume
    // used to copy the rest of the chunk, 400 MB copied and 13,000 buffers made for 64 KiB received.
    const count = 13_000;
    const chunk = new Uint8Array(count * 5);
    for (let i = 0; i < count; i++) writeMsgPacket(chunk, i * 5, 0x40, new Uint8Array([i & 0xff]), 0, 1, true);
    const buffers = new Set<ArrayBufferLike>();
    let received = 0;
    let inOrder = true;
    const decoder: PacketDecoder = new PacketDecoder({
      onMsgPacket: (_channelId, payload) => {
        buffers.add(payload.buffer);
        if (payload[0] !== (received & 0xff)) inOrder = false;
        received++;
        decoder.suspend();
      },
      onPing: () => undefined,
      onPong: () => undefined,
    });
    expect(decoder.push(chunk)).toBeUndefined();
    let resumes = 0;
    while (decoder.hasParked && resumes <= count) {
      expect(decoder.resume()).toBeUndefined();
      resumes++;
    }
    expect(received).toBe(count);
    expect(inOrder).toBe(true);
    // The caller's chunk, then one copy of what was parked: every later message is a view of it.
    expect(buffers.size).toBe(2);
  });

  it('gathers input that arrives while suspended in order, also after a resume suspended again', () => {
    const events: string[] = [];
    let stopAfter = 1;
    const decoder: PacketDecoder = new PacketDecoder({
      onMsgPacket: (_channelId, payload) => {
        events.push(hex(payload));
        if (events.length === stopAfter) decoder.suspend();
      },
      onPing: () => undefined,
      onPong: () => undefined,
    });
    const buffer = new Uint8Array(5 * 200);
    for (let i = 0; i < 200; i++) writeMsgPacket(buffer, i * 5, 0x40, new Uint8Array([i]), 0, 1, true);
    expect(decoder.push(buffer.subarray(0, 52))).toBeUndefined(); // 10 packets and 2 bytes of the 11th
    stopAfter = 3;
    expect(decoder.resume()).toBeUndefined(); // two more, then suspended inside the parked copy
    for (let offset = 52; offset < buffer.length; offset += 3) expect(decoder.push(buffer.subarray(offset, offset + 3))).toBeUndefined();
    buffer.fill(0xee);
    stopAfter = -1;
    expect(decoder.resume()).toBeUndefined();
    expect(events).toEqual(Array.from({ length: 200 }, (_, i) => i.toString(16).padStart(2, '0')));
  });
});

describe('packet decoder: fragments that carry nothing', () => {
  it('refuses an empty fragment that is not the last of its message (ERR_MALFORMED_PACKET), whole or split at any byte', () => {
    const bytes = new Uint8Array(12);
    let offset = writeMsgPacket(bytes, 0, 0x40, new Uint8Array([7]), 0, 1, false);
    offset = writeMsgPacket(bytes, offset, 0x40, new Uint8Array(0), 0, 0, false);
    for (const step of [bytes.length, 1, 3]) {
      const { handler, events } = recorder();
      const decoder = new PacketDecoder(handler);
      let error: ProtocolError | undefined;
      for (let at = 0; at < offset && error === undefined; at += step) error = decoder.push(bytes.subarray(at, Math.min(at + step, offset)));
      expect(error?.code).toBe('ERR_MALFORMED_PACKET');
      expect(events).toEqual([['msg', 0x40, '07', false]]);
    }
  });

  it('still takes an empty message (an empty last fragment)', () => {
    const bytes = new Uint8Array(4);
    writeMsgPacket(bytes, 0, 0x40, new Uint8Array(0), 0, 0, true);
    const { handler, events } = recorder();
    expect(new PacketDecoder(handler).push(bytes)).toBeUndefined();
    expect(events).toEqual([['msg', 0x40, '', true]]);
  });
});
