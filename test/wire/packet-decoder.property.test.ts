/**
 * PacketDecoder against a reference that parses the whole stream at once: whatever the chunking, and
 * however the reader suspends and resumes (between pushes, inside handlers, re-suspending while parked
 * input is handed on, input pushed while suspended), the handler sees exactly the reference's packets,
 * in order, with the same bytes, and an error exactly when the reference has one. Each chunk is
 * overwritten once pushed, as a socket's shared read buffer is: what the decoder parks must be a copy.
 */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { PacketDecoder } from '../../src/wire/packet.js';
import { MAX_CLOSE_REASON_BYTES, PacketKind } from '../../src/wire/constants.js';

type Event = string;

/** The trivially correct parser: whole stream in hand, one packet after another. */
function reference(stream: Uint8Array): { events: Event[]; failed: boolean } {
  const events: Event[] = [];
  let i = 0;
  while (i < stream.length) {
    const kind = stream[i]!;
    if (kind === PacketKind.Ping || kind === PacketKind.Pong) {
      events.push(kind === PacketKind.Ping ? 'ping' : 'pong');
      i++;
      continue;
    }
    if (kind !== PacketKind.Msg && kind !== PacketKind.MsgEnd && kind !== PacketKind.Close) return { events, failed: true };
    if (stream.length - i < 4) return { events, failed: false };
    const length = (stream[i + 2]! << 8) | stream[i + 3]!;
    if (kind === PacketKind.Close && length > MAX_CLOSE_REASON_BYTES) return { events, failed: true };
    if (kind === PacketKind.Msg && length === 0) return { events, failed: true };
    if (stream.length - i - 4 < length) return { events, failed: false };
    const payload = stream.subarray(i + 4, i + 4 + length);
    if (kind === PacketKind.Close) {
      events.push(`close ${Buffer.from(payload).toString('hex')}`);
      return { events, failed: false }; // nothing after a close is decoded
    }
    events.push(`msg ${stream[i + 1]} ${kind === PacketKind.MsgEnd} ${Buffer.from(payload).toString('hex')}`);
    i += 4 + length;
  }
  return { events, failed: false };
}

const packet = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(fc.constantFrom(PacketKind.Msg, PacketKind.MsgEnd), fc.integer({ min: 0, max: 255 }), fc.uint8Array({ minLength: 0, maxLength: 40 })) },
  { weight: 2, arbitrary: fc.constantFrom(PacketKind.Ping, PacketKind.Pong).map((kind) => [kind] as const) },
  { weight: 1, arbitrary: fc.tuple(fc.constant(PacketKind.Close), fc.uint8Array({ maxLength: 8 })) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 3 }).map((bytes) => [bytes] as const) }, // junk
);

function serialize(packets: readonly (readonly unknown[])[]): Uint8Array {
  const bytes: number[] = [];
  for (const p of packets) {
    if (p[0] instanceof Uint8Array) bytes.push(...p[0]);
    else if (p.length === 1) bytes.push(p[0] as number);
    else if (p[0] === PacketKind.Close) {
      const reason = p[1] as Uint8Array;
      bytes.push(PacketKind.Close, 0, reason.length >> 8, reason.length & 0xff, ...reason);
    } else {
      const payload = p[2] as Uint8Array;
      bytes.push(p[0] as number, p[1] as number, payload.length >> 8, payload.length & 0xff, ...payload);
    }
  }
  return Uint8Array.from(bytes);
}

/** What a handler does after recording its packet. */
const HandlerAction = { None: 0, Suspend: 1, SuspendResume: 2 } as const;

it('decodes like the reference under any chunking and any suspend/resume schedule', () => {
  fc.assert(
    fc.property(
      fc.array(packet, { maxLength: 60 }),
      fc.array(fc.integer({ min: 1, max: 30 }), { minLength: 1, maxLength: 80 }),
      fc.array(fc.constantFrom(HandlerAction.None, HandlerAction.None, HandlerAction.Suspend, HandlerAction.SuspendResume), { minLength: 1, maxLength: 50 }),
      fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 50 }),
      (packets, cuts, actions, resumesBetween) => {
        const stream = serialize(packets);
        const expected = reference(stream);
        const events: Event[] = [];
        let failed = false;
        let calls = 0;
        const act = (): void => {
          const action = actions[calls++ % actions.length];
          if (action === HandlerAction.Suspend) decoder.suspend();
          else if (action === HandlerAction.SuspendResume) {
            decoder.suspend();
            record(decoder.resume());
          }
        };
        const record = (error: unknown): void => {
          if (error !== undefined) failed = true;
        };
        const decoder = new PacketDecoder({
          onMsgPacket: (channel, payload, isLast) => {
            events.push(`msg ${channel} ${isLast} ${Buffer.from(payload).toString('hex')}`);
            act();
          },
          onPing: () => {
            events.push('ping');
            act();
          },
          onPong: () => {
            events.push('pong');
            act();
          },
          onClosePacket: (reason) => {
            events.push(`close ${Buffer.from(reason).toString('hex')}`);
            act();
          },
        });
        let offset = 0;
        for (let i = 0; offset < stream.length; i++) {
          const size = cuts[i % cuts.length]!;
          // A fresh buffer per chunk, overwritten after the push: as a socket's reused read buffer.
          const chunk = stream.slice(offset, offset + size);
          offset += size;
          record(decoder.push(chunk));
          chunk.fill(0xee);
          for (let r = resumesBetween[i % resumesBetween.length]!; r > 0; r--) record(decoder.resume());
        }
        // The reader catches up: each resume may suspend again on a later packet.
        for (let guard = 0; decoder.hasParked; guard++) {
          expect(guard).toBeLessThan(stream.length + 2);
          record(decoder.resume());
        }
        expect(events).toEqual(expected.events);
        expect(failed).toBe(expected.failed);
      },
    ),
    { numRuns: 3000 },
  );
});
