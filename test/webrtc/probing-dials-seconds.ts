/**
 * `npx tsx test/webrtc/probing-dials-seconds.ts [SECONDS]`: the STUN datagrams 16 victim addresses
 * (127.0.1.1 to 127.0.1.16, loopback candidates let through) get from one node's own dials to made-up
 * `webrtc://<id>?via=<relay>` addresses whose relay forges answers naming one victim each (ICE
 * credentials no check satisfies): as many dials at once as the pending-dial cap allows (16), renewed
 * as each ends within the dial allowance (a burst of 16, then one a second), each with the 10 s dial
 * deadline. Prints JSON: dials, datagrams in all, the busiest second. A measurement, not a test.
 */
import { createSocket } from 'node:dgram';
import { systemClock } from '../../src/util/clock.js';
import { DEFAULT_DIAL_TIMEOUT_MS } from '../../src/switch/constants.js';
import { WEBRTC_DIALS_PER_MINUTE, WEBRTC_MAX_PENDING_DIALS } from '../../src/webrtc/constants.js';
import type { SignalData } from '../../src/webrtc/signal-messages.js';
import { falseCredentialAnswer, wrtcNegotiations } from '../helpers/crowded-address.js';

const SECONDS = Number(process.argv[2] ?? 30);
const DIALS = WEBRTC_MAX_PENDING_DIALS;
const perSecond: number[] = Array(SECONDS).fill(0);
const started = Date.now();
const victims = await Promise.all(
  Array.from({ length: DIALS }, async (_, victim) => {
    const socket = createSocket('udp4');
    socket.on('message', () => {
      const second = Math.floor((Date.now() - started) / 1000);
      if (second < SECONDS) perSecond[second]!++;
    });
    await new Promise<void>((resolve) => socket.bind(0, `127.0.1.${victim + 1}`, resolve));
    return socket;
  }),
);
const answerTo = new Map<string, (offerSdp: string) => void>();
const negotiations = wrtcNegotiations(1, {
  allowLoopbackCandidates: true,
  dials: { total: DIALS, perVia: DIALS },
  sendSignal: (_via, remote, data: SignalData) => {
    if (data.type === 'offer') answerTo.get(remote)?.(data.sdp);
    return true;
  },
});
let tokens = DIALS;
let dialled = 0;
const freeVictims = victims.map((_, victim) => victim);
const refill = setInterval(() => (tokens = Math.min(DIALS, tokens + 1)), 60_000 / WEBRTC_DIALS_PER_MINUTE);
const dialOne = (): void => {
  if (tokens === 0 || freeVictims.length === 0 || Date.now() - started >= SECONDS * 1000) return;
  tokens--;
  const victim = freeVictims.shift()!;
  const remote = `made-up-${dialled++}`;
  const candidate = `a=candidate:1 1 udp 2122260223 127.0.1.${victim + 1} ${victims[victim]!.address().port} typ host generation 0`;
  answerTo.set(remote, (offerSdp) => void falseCredentialAnswer(offerSdp).then((sdp) => dial.signal({ type: 'answer', sdp: `${sdp.trimEnd()}\r\n${candidate}\r\n` })));
  const dial = negotiations.start({
    initiator: true,
    via: 'relay',
    remote,
    clock: systemClock,
    timeoutMs: DEFAULT_DIAL_TIMEOUT_MS,
    onConnected: (link) => link.destroy(),
    onFailed: () => {
      answerTo.delete(remote);
      freeVictims.push(victim);
    },
  });
};
const dialing = setInterval(() => {
  for (let i = 0; i < DIALS; i++) dialOne();
}, 100);
await new Promise((resolve) => setTimeout(resolve, SECONDS * 1000 + 500));
clearInterval(dialing);
clearInterval(refill);
console.log(JSON.stringify({ seconds: SECONDS, dials: dialled, datagrams: perSecond.reduce((sum, count) => sum + count, 0), busiestSecond: Math.max(...perSecond) }));
process.exit(0);
