/**
 * Signalling relayed through the victim (over real TCP/ws): a peer of the victim must not be able to
 * use the victim's relay to get the victim cut off by a peer the victim dialled. That peer takes
 * relayed signals from the victim only while it negotiates through it (the victim is not a relay it
 * chose), so the victim forwards to such a peer only the signals of nodes it is negotiating with.
 */
import { afterEach, expect, it } from 'vitest';
import { SIGNAL_CHANNEL_ID } from '../../src/webrtc/constants.js';
import { decodeSignalMessage, encodeSignalMessage, type SignalData } from '../../src/webrtc/signal-messages.js';
import { SignalAgent, type IncomingSignal } from '../../src/webrtc/signal-agent.js';
import { waitFor } from '../helpers/wait.js';
import { connectAttacker, finishScene, sleep, startHonest, startScene, stopHostileNodes } from './harness.js';

afterEach(stopHostileNodes);

const offer: SignalData = { type: 'offer', sdp: 'v=0 offer' };
const answer: SignalData = { type: 'answer', sdp: 'v=0 answer' };
const signal = (from: string, to: string, data: SignalData): Uint8Array => encodeSignalMessage({ type: 'signal', from, to, data });

it('a signal for a peer we dialled, from a node it is not negotiating with, is answered `unreachable`, not forwarded; our link to that peer stays up', async () => {
  const scene = await startScene();
  const { victim } = scene;
  const [, h2] = scene.honest; // the victim dialled h2: to h2 the victim is no relay it chose
  const attacker = await connectAttacker(victim);
  const unreachableFor = (): boolean =>
    attacker.agent.messages.some((m) => m.channelId === SIGNAL_CHANNEL_ID && decodeSignalMessage(m.message).type === 'unreachable');
  attacker.peer.trySend(SIGNAL_CHANNEL_ID, signal(attacker.id, h2.id, offer));
  await waitFor(unreachableFor, 3000, 'an `unreachable` reply to the attacker');
  await sleep(300);
  expect(victim.disconnects.filter((d) => d.id === h2.id).map((d) => (d.reason as { code?: string } | undefined)?.code), 'victim–h2 disconnects').toEqual([]);
  expect(h2.signal.stats.delivered, 'signals h2 received through the victim').toBe(0);
  expect(attacker.onVictim(), 'the sender (it did nothing wrong) keeps its link').toBeDefined();
  await finishScene(scene);
});

it('a peer we dialled that negotiates through us gets the answers of the node it signalled', async () => {
  const scene = await startScene();
  const { victim } = scene;
  const received: IncomingSignal[] = [];
  const remote = await connectAttacker(victim);
  // x accepts relayed signals from the victim while it negotiates with `remote` through it.
  const x = await startHonest('tcp://127.0.0.1:0', new SignalAgent({
    isNegotiating: (via, from) => via === victim.id && from === remote.id,
    onSignal: (incoming) => void received.push(incoming),
  }));
  await victim.sw.dial(x.address);
  expect(x.signal.sendSignal(victim.id, remote.id, offer)).toBe(true);
  await waitFor(() => remote.agent.messages.some((m) => m.channelId === SIGNAL_CHANNEL_ID), 3000, 'the offer relayed to the remote');
  remote.peer.trySend(SIGNAL_CHANNEL_ID, signal(remote.id, x.id, answer));
  await waitFor(() => received.length > 0, 3000, 'the answer relayed back');
  expect(received[0]).toMatchObject({ from: remote.id, via: victim.id, data: answer });
  expect(x.sw.getPeer(victim.id), 'x keeps its link to the victim').toBeDefined();
  await finishScene(scene);
});
