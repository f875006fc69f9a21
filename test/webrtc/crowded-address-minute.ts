/**
 * `npx tsx test/webrtc/crowded-address-minute.ts [SECONDS] [--spread]`: the STUN datagrams one victim
 * address gets from one node answering offers that each name another port of it (ICE credentials no
 * check satisfies), as many at once as the answer caps allow (32) and renewed as the answer allowance
 * allows (a burst of 32, then one a second), each living the answer's 15 s. With `--spread`, each of the
 * 32 victims is another address (127.0.0.1 to 127.0.0.32, loopback candidates let through): what a
 * spread of targets gets. Prints JSON: datagrams in all, the busiest second, the RTCPeerConnections that
 * checked, and the busiest victim's datagrams. A measurement, not a test.
 */
import { createSocket } from 'node:dgram';
import { WEBRTC_ACCEPT_TIMEOUT_MS, WEBRTC_ANSWERS_BURST, WEBRTC_ANSWERS_PER_MINUTE } from '../../src/webrtc/constants.js';
import { answer, falseCredentialOffer, offerNaming, ownAddress, wrtcNegotiations } from '../helpers/crowded-address.js';

const spread = process.argv.includes('--spread');
const SECONDS = Number(process.argv.slice(2).find((arg) => !arg.startsWith('--')) ?? 60);
const addressOf = (victim: number): string => (spread ? `127.0.0.${victim + 1}` : ownAddress());
const perSecond: number[] = [];
const perVictim: number[] = [];
const usernames = new Set<string>();
const started = Date.now();
const sockets = await Promise.all(
  Array.from({ length: WEBRTC_ANSWERS_BURST }, async (_, victim) => {
    const socket = createSocket('udp4');
    socket.on('message', (datagram) => {
      const second = Math.floor((Date.now() - started) / 1000);
      if (second >= SECONDS) return;
      perSecond[second] = (perSecond[second] ?? 0) + 1;
      perVictim[victim] = (perVictim[victim] ?? 0) + 1;
      usernames.add(datagram.subarray(24, 24 + datagram.readUInt16BE(22)).toString('latin1')); // USERNAME first: libwebrtc puts it there
    });
    await new Promise<void>((resolve) => socket.bind(0, addressOf(victim), resolve));
    return socket;
  }),
);
const negotiations = wrtcNegotiations(WEBRTC_ANSWERS_BURST, { allowLoopbackCandidates: spread });
const offer = await falseCredentialOffer();
let tokens = WEBRTC_ANSWERS_BURST;
let answered = 0;
const freeVictims = sockets.map((_, victim) => victim);
const refill = setInterval(() => (tokens = Math.min(WEBRTC_ANSWERS_BURST, tokens + 1)), 60_000 / WEBRTC_ANSWERS_PER_MINUTE);
const answerNext = (): void => {
  while (tokens > 0 && freeVictims.length > 0 && Date.now() - started < SECONDS * 1000) {
    tokens--;
    answered++;
    const victim = freeVictims.shift()!;
    answer(negotiations, `attacker-${answered}`, offerNaming(offer, addressOf(victim), sockets[victim]!.address().port), WEBRTC_ACCEPT_TIMEOUT_MS, () => {
      freeVictims.push(victim);
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
console.log(JSON.stringify({ seconds: SECONDS, answered, datagrams, perSecond: Math.round(datagrams / SECONDS), busiestSecond: Math.max(...perSecond.map((count) => count ?? 0)), checkers: usernames.size, busiestVictim: Math.max(0, ...perVictim.map((count) => count ?? 0)) }));
negotiations.failAll(new Error('measurement over'));
for (const socket of sockets) socket.close();
setTimeout(() => process.exit(0), 500);
