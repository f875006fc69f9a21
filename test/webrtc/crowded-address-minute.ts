/**
 * `npx tsx test/webrtc/crowded-address-minute.ts [SECONDS]`: the STUN datagrams one victim address gets
 * from one node answering offers that each name another port of it (ICE credentials no check
 * satisfies), as many at once as the answer caps allow (32) and renewed as the answer allowance
 * allows (a burst of 32, then one a second), each living the answer's 15 s. Prints JSON: datagrams in
 * all, the busiest second, and the RTCPeerConnections that checked it. A measurement, not a test.
 */
import { createSocket } from 'node:dgram';
import { WEBRTC_ACCEPT_TIMEOUT_MS, WEBRTC_ANSWERS_BURST, WEBRTC_ANSWERS_PER_MINUTE } from '../../src/webrtc/constants.js';
import { answer, falseCredentialOffer, offerNaming, ownAddress, wrtcNegotiations } from '../helpers/crowded-address.js';

const SECONDS = Number(process.argv[2] ?? 60);
const address = ownAddress();
const perSecond: number[] = [];
const usernames = new Set<string>();
const started = Date.now();
const sockets = await Promise.all(
  Array.from({ length: WEBRTC_ANSWERS_BURST }, async () => {
    const socket = createSocket('udp4');
    socket.on('message', (datagram) => {
      const second = Math.floor((Date.now() - started) / 1000);
      perSecond[second] = (perSecond[second] ?? 0) + 1;
      usernames.add(datagram.subarray(24, 24 + datagram.readUInt16BE(22)).toString('latin1')); // USERNAME first: libwebrtc puts it there
    });
    await new Promise<void>((resolve) => socket.bind(0, address, resolve));
    return socket;
  }),
);
const negotiations = wrtcNegotiations(WEBRTC_ANSWERS_BURST);
const offer = await falseCredentialOffer();
let tokens = WEBRTC_ANSWERS_BURST;
let answered = 0;
const freePorts = sockets.map((socket) => socket.address().port);
const refill = setInterval(() => (tokens = Math.min(WEBRTC_ANSWERS_BURST, tokens + 1)), 60_000 / WEBRTC_ANSWERS_PER_MINUTE);
const answerNext = (): void => {
  while (tokens > 0 && freePorts.length > 0 && Date.now() - started < SECONDS * 1000) {
    tokens--;
    answered++;
    const port = freePorts.shift()!;
    answer(negotiations, `attacker-${answered}`, offerNaming(offer, address, port), WEBRTC_ACCEPT_TIMEOUT_MS, () => {
      freePorts.push(port);
      setImmediate(answerNext);
    });
  }
};
const poll = setInterval(answerNext, 250);
answerNext();
await new Promise((resolve) => setTimeout(resolve, SECONDS * 1000));
clearInterval(refill);
clearInterval(poll);
const datagrams = perSecond.slice(0, SECONDS).reduce((sum, count) => sum + (count ?? 0), 0);
console.log(JSON.stringify({ seconds: SECONDS, answered, datagrams, perSecond: Math.round(datagrams / SECONDS), busiestSecond: Math.max(...perSecond.map((count) => count ?? 0)), checkers: usernames.size }));
negotiations.failAll(new Error('measurement over'));
for (const socket of sockets) socket.close();
setTimeout(() => process.exit(0), 500);
