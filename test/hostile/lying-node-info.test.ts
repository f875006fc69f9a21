/**
 * A NodeInfo that claims listen addresses on other hosts (over real TCP). What a node says of itself
 * is first-hand only where we reach it: a claim on another host is kept as hearsay, so it does not go
 * to the front of our PEX answers, where a stream of fresh keys could otherwise point every asker at
 * a victim host (a reflector).
 */
import { afterEach, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import { connectAttacker, finishScene, startScene, stopHostileNodes } from './harness.js';

afterEach(stopHostileNodes);

it("an inbound peer's listen addresses on another host than it connects from are hearsay, not first-hand", async () => {
  const scene = await startScene({ pex: { allowLocal: true } });
  const { victim } = scene;
  // The attacker connects from 127.0.0.1 and claims one address there and two on a "victim host".
  const attacker = await connectAttacker(victim, {
    switchOptions: { externalAddresses: ['tcp://127.0.0.1:7002', 'tcp://127.0.0.2:7001', 'ws://127.0.0.2:7003/'] },
  });
  const claim = (hostPort: string, protocol = 'tcp'): string => `${protocol}://${attacker.id}@${hostPort}`;
  const ownHost = claim('127.0.0.1:7002');
  const otherHost = [claim('127.0.0.2:7001'), `${claim('127.0.0.2:7003', 'ws')}/`];
  const book = victim.pex.book;
  await waitFor(() => book.get(ownHost) !== undefined, 3000, 'the claims reach the book');
  const firstHand = book.sampleFirstHand(1000);
  expect(firstHand, 'a claim on the host it connects from').toContain(ownHost);
  for (const address of otherHost) {
    expect(book.get(address), `${address} kept`).toBeDefined();
    expect(firstHand, `${address} is not first-hand`).not.toContain(address);
  }
  await finishScene(scene);
});
