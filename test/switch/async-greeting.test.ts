/**
 * The greeting an app writes first: `sw.on('peer:connected', async ({ peer }) => { await peer.send(…) })`,
 * or an agent's `async addPeer(peer)` doing the same. Both are declared `void`, so an async one
 * type-checks; a peer whose NodeInfo lacks the channel (or declares a 1-byte capacity) makes the send
 * reject with a SendError. Over real TCP: the rejection is reported (console.error for a listener,
 * 'agent:error' for an agent), never an unhandled rejection, which ends a Node 20 process.
 */
import { afterEach, expect, it, vi } from 'vitest';
import { SendError } from '../../src/errors.js';
import type { Peer } from '../../src/switch/peer.js';
import { bytes, startNode, stopAll } from '../helpers/nodes.js';
import { waitFor } from '../helpers/wait.js';

const GREETING = 0x40;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => void unhandled.push(reason);

afterEach(async () => {
  process.off('unhandledRejection', onUnhandled);
  process.off('uncaughtException', onUnhandled);
  vi.restoreAllMocks();
  await stopAll();
});

it("an async 'peer:connected' listener and an async addPeer whose greeting a 1-byte peer refuses: reported, no unhandled rejection", async () => {
  unhandled.length = 0;
  // vitest reports unhandled rejections as errors of its own: listen first so that we count them here.
  process.on('unhandledRejection', onUnhandled);
  const printed: unknown[][] = [];
  vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void printed.push(args));
  const greeter = await startNode({
    agents: {
      greeter: {
        channels: [{ id: GREETING }],
        addPeer: async (peer) => {
          await peer.send(GREETING, bytes(100));
        },
      },
    },
  });
  const agentErrors: Error[] = [];
  greeter.sw.on('agent:error', ({ error }) => agentErrors.push(error));
  greeter.sw.on('peer:connected', async ({ peer }) => {
    await peer.send(GREETING, bytes(100));
  });
  const tiny = await startNode({ agents: { tiny: { channels: [{ id: GREETING, recvMessageCapacity: 1 }] } } });
  await tiny.sw.dial(greeter.address);
  await waitFor(() => agentErrors.length === 1 && printed.length === 1, 3000, 'both rejections are reported');
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect(unhandled).toEqual([]);
  expect(agentErrors[0]).toBeInstanceOf(SendError);
  expect(printed[0]![0]).toContain("'peer:connected' listener");
  expect(printed[0]![1]).toBeInstanceOf(SendError);
  expect(greeter.sw.peers).toHaveLength(1); // the peer stays: it only declared a small capacity
});

it("a standard addEventListener listener that throws (a bare trySend to a 1-byte peer) is reported, not an uncaught exception; removal still works", async () => {
  unhandled.length = 0;
  // Node reports a throw out of an EventTarget listener as an uncaught exception: count them here.
  process.on('uncaughtException', onUnhandled);
  process.on('unhandledRejection', onUnhandled);
  const printed: unknown[][] = [];
  vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void printed.push(args));
  const greeter = await startNode({ agents: { greeter: { channels: [{ id: GREETING }] } } });
  const greet = (event: CustomEvent<{ peer: Peer }>): void => void event.detail.peer.trySend(GREETING, bytes(100));
  const removed = (): void => void printed.push(['removed listener ran']);
  greeter.sw.addEventListener('peer:connected', greet);
  greeter.sw.addEventListener('peer:connected', greet); // the same listener twice is one listener
  greeter.sw.addEventListener('peer:connected', removed);
  greeter.sw.removeEventListener('peer:connected', removed);
  const tiny = await startNode({ agents: { tiny: { channels: [{ id: GREETING, recvMessageCapacity: 1 }] } } });
  await tiny.sw.dial(greeter.address);
  await waitFor(() => printed.length >= 1, 3000, 'the throw is reported');
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect(unhandled).toEqual([]);
  expect(printed).toHaveLength(1);
  expect(printed[0]![1]).toBeInstanceOf(SendError);
  expect(greeter.sw.peers).toHaveLength(1);
});
