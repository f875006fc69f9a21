/**
 * An app's own code reacting to a peer from inside the Switch's callbacks: an agent's `addPeer` or a
 * `peer:connected` listener that turns the newcomer away with a graceful `sw.disconnect(peer)` (a
 * peer the app does not want: a banned-by-the-app id, one too many of a kind). Before the fix the
 * close could not begin (the connection had not started reading), so the unwanted peer stayed for
 * `closeTimeoutMs`, every message it sent meanwhile reached the agents, and it was then cut as if it
 * had stalled (a TimeoutError reported as its `peer:error`). Real TCP on 127.0.0.1, an honest peer
 * exchanging messages with the victim throughout.
 *
 * And an agent that refuses a message by throwing or rejecting with something that is not an Error and
 * cannot be printed: an object with no prototype, or the peer's own JSON `{"toString":1}` (whose
 * `String()` throws). Before the fix, a rejection with one escaped as an unhandled rejection (which ends
 * a Node process by default) and the peer kept its connection.
 *
 * And the close itself, against a peer that keeps sending through our graceful close (it never takes
 * our end of the stream as a close): an agent calling `sw.disconnect(peer)` per message (each call made
 * a close waiter: hundreds of MB within closeTimeoutMs), an agent refusing its messages meanwhile (each
 * refusal was forgiven: `stopPeerForError` ignored a closing peer), and an agent whose `stop()` waits
 * for answers such a peer never sends (`sw.stop()` waited for ever).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Agent } from '../../src/switch/agent.js';
import type { Peer } from '../../src/switch/peer.js';
import type { Switch } from '../../src/switch/switch.js';
import { startNode, stopAll } from '../helpers/nodes.js';
import { waitFor } from '../helpers/wait.js';
import { heapUsedBytes, recordProcessFaults } from './harness.js';
import { guardProcessFaults } from './raw-peer.js';

guardProcessFaults();
afterEach(stopAll);

const APP = 0x40;
const CHANNELS = [{ id: APP, recvMessageCapacity: 1024 }];
const UNWANTED = 'unwanted';

for (const where of ['addPeer', 'peer:connected'] as const) {
  describe(`sw.disconnect(peer) from ${where}`, () => {
    it('closes the unwanted peer cleanly at once, delivers little of what it keeps sending, and never touches the honest peer', async () => {
      let victim: Switch | undefined;
      const turnedAway: { at: number; closed: Promise<number> }[] = [];
      const turnAway = (peer: Peer): void => {
        if (peer.nodeInfo.moniker !== UNWANTED) return;
        const at = performance.now();
        turnedAway.push({ at, closed: victim!.disconnect(peer).then(() => performance.now() - at) });
      };
      const fromUnwanted: number[] = [];
      const honestSeqs: number[] = [];
      const app: Agent = {
        channels: CHANNELS,
        addPeer: (peer) => (where === 'addPeer' ? turnAway(peer) : undefined),
        receive: (_channel, peer, message) => {
          if (peer.nodeInfo.moniker === UNWANTED) fromUnwanted.push(performance.now());
          else honestSeqs.push(new DataView(message.buffer, message.byteOffset).getUint32(0));
        },
      };
      const node = await startNode({ channels: [{ id: 0x50 }], agents: { app } });
      victim = node.sw;
      if (where === 'peer:connected') victim.on('peer:connected', ({ peer }) => turnAway(peer));
      const departures: { moniker: string; reason: Error | undefined; at: number }[] = [];
      victim.on('peer:disconnected', ({ peer, reason }) => void departures.push({ moniker: peer.nodeInfo.moniker, reason, at: performance.now() }));

      const honest = await startNode({ channels: CHANNELS, moniker: 'honest' });
      const toVictim = await honest.sw.dial(node.address);
      let seq = 0;
      const pump = setInterval(() => {
        const message = new Uint8Array(4);
        new DataView(message.buffer).setUint32(0, seq++);
        void toVictim.send(APP, message);
      }, 5);

      const unwanted = await startNode({ channels: CHANNELS, moniker: UNWANTED });
      const link = await unwanted.sw.dial(node.address);
      // It keeps sending as fast as its queue takes for as long as the victim lets it stay.
      const flood = setInterval(() => {
        for (let i = 0; i < 50 && link.isConnected; i++) link.trySend(APP, new Uint8Array(16));
      }, 2);
      try {
        await waitFor(() => departures.some((d) => d.moniker === UNWANTED), 4000, 'the unwanted peer to be gone');
      } finally {
        clearInterval(flood);
      }
      expect(turnedAway).toHaveLength(1);
      const departure = departures.find((d) => d.moniker === UNWANTED)!;
      const goneAfterMs = departure.at - turnedAway[0]!.at;
      // Before: 5,008 ms (closeTimeoutMs), a TimeoutError "Graceful close timed out", ~9,000 messages delivered.
      expect(goneAfterMs, 'the unwanted peer stays no longer than a close takes').toBeLessThan(1000);
      expect(departure.reason, 'a clean close, not a cut blamed on the peer').toBeUndefined();
      expect(await turnedAway[0]!.closed).toBeLessThan(1000);
      const afterTurnedAway = fromUnwanted.filter((at) => at > turnedAway[0]!.at).length;
      expect(afterTurnedAway, 'messages from the unwanted peer delivered after it was turned away').toBeLessThan(500);

      // The honest peer was never touched and its stream arrives whole and in order.
      const last = seq + 20;
      await waitFor(() => seq >= last, 2000, 'more honest messages');
      clearInterval(pump);
      await waitFor(() => honestSeqs.length === seq, 3000, 'every honest message');
      expect(honestSeqs).toEqual(Array.from({ length: seq }, (_, i) => i));
      expect(toVictim.isConnected).toBe(true);
      expect(departures.map((d) => d.moniker)).toEqual([UNWANTED]);
    });
  });
}

describe('an agent refusing a message with a value that cannot be printed', () => {
  const shapes: Record<string, (message: Uint8Array) => unknown> = {
    'an object with no prototype': () => Object.create(null),
    "the peer's own JSON {\"toString\":1}": (message) => JSON.parse(new TextDecoder().decode(message)),
  };
  for (const [shape, refusal] of Object.entries(shapes)) {
    for (const how of ['throws', 'rejects'] as const) {
      it(`${how} ${shape}: only the sender is cut, nothing escapes the event loop`, async () => {
        const faults = recordProcessFaults();
        try {
          const honestSeqs: number[] = [];
          const app: Agent = {
            channels: CHANNELS,
            receive: (_channel, peer, message) => {
              if (peer.nodeInfo.moniker !== UNWANTED) {
                honestSeqs.push(new DataView(message.buffer, message.byteOffset).getUint32(0));
                return undefined;
              }
              if (how === 'throws') throw refusal(message);
              return Promise.reject(refusal(message));
            },
          };
          const node = await startNode({ channels: [{ id: 0x50 }], agents: { app } });
          const errors: { moniker: string; error: Error }[] = [];
          node.sw.on('peer:error', ({ peer, error }) => void errors.push({ moniker: peer.nodeInfo.moniker, error }));
          const honest = await startNode({ channels: CHANNELS, moniker: 'honest' });
          const toVictim = await honest.sw.dial(node.address);
          const unwanted = await startNode({ channels: CHANNELS, moniker: UNWANTED });
          const link = await unwanted.sw.dial(node.address);
          for (let seq = 0; seq < 50; seq++) {
            const message = new Uint8Array(4);
            new DataView(message.buffer).setUint32(0, seq);
            void toVictim.send(APP, message);
            if (seq === 10) link.trySend(APP, new TextEncoder().encode('{"toString":1}'));
            await new Promise((resolve) => setTimeout(resolve, 2));
          }
          await waitFor(() => !link.isConnected || faults.faults.length > 0, 2000, 'the refused peer to be cut');
          expect(faults.faults.map(String), 'unhandled rejections / uncaught exceptions').toEqual([]);
          expect(link.isConnected).toBe(false);
          expect(errors.map((e) => e.moniker)).toEqual([UNWANTED]);
          expect(errors[0]!.error).toBeInstanceOf(Error);
          await waitFor(() => honestSeqs.length === 50, 3000, 'every honest message');
          expect(honestSeqs).toEqual(Array.from({ length: 50 }, (_, i) => i));
          expect(toVictim.isConnected).toBe(true);
        } finally {
          faults.stop();
        }
      });
    }
  }
});

describe("an agent whose stop() waits on a peer's answer that never comes", () => {
  it('stop() still ends within stopTimeoutMs: the agent is reported, the stop hooks run, the listener closes', async () => {
    // The agent asks each newcomer something and, on stop, waits for the answers it is owed (say, to
    // save them): the attacker takes the question and never answers.
    const answered = new Map<string, () => void>();
    const owed: Promise<void>[] = [];
    const asking: Agent = {
      channels: CHANNELS,
      addPeer: (peer) => {
        owed.push(new Promise<void>((resolve) => answered.set(peer.id, resolve)));
        peer.trySend(APP, new Uint8Array([1]));
      },
      receive: (_channel, peer) => answered.get(peer.id)?.(),
      stop: async () => void (await Promise.all(owed)),
    };
    const node = await startNode({ channels: [{ id: 0x50 }], agents: { asking }, stopTimeoutMs: 500 });
    const agentErrors: Error[] = [];
    node.sw.on('agent:error', ({ error }) => void agentErrors.push(error));
    let hookRan = false;
    node.sw.addStopHook('release', () => void (hookRan = true));
    const attacker = await startNode({ channels: CHANNELS, moniker: UNWANTED });
    await attacker.sw.dial(node.address);
    await waitFor(() => attacker.agent.messages.length === 1, 2000, 'the question reaches the attacker');

    const started = performance.now();
    const stopped = await Promise.race([node.sw.stop().then(() => true), new Promise<false>((resolve) => setTimeout(() => resolve(false), 4000))]);
    // Before: still stopping after 8 s, and for ever (no stop hook run, the listener still open).
    expect(stopped, 'stop() ended').toBe(true);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(agentErrors.map((e) => (e as { code?: string }).code)).toEqual(['ERR_TIMEOUT']);
    expect(hookRan).toBe(true);
    await expect(attacker.sw.dial(node.address)).rejects.toThrow();
  });
});

describe('sw.disconnect(peer) from receive, for every message of a peer that ignores our close', () => {
  it('shares one close: the heap stays flat while the peer floods through our graceful close, and it is gone by closeTimeoutMs', async () => {
    let victim: Switch | undefined;
    let calls = 0;
    const app: Agent = {
      channels: CHANNELS,
      receive: (_channel, peer) => {
        calls++;
        void victim!.disconnect(peer);
      },
    };
    const node = await startNode({ channels: [{ id: 0x50 }], agents: { app }, connection: { closeTimeoutMs: 2000 } });
    victim = node.sw;
    const attacker = await startNode({ channels: CHANNELS, moniker: UNWANTED });
    const link = await attacker.sw.dial(node.address);
    // The attacker never takes our end of the stream as a close: it keeps sending until we cut it.
    (link.connection as unknown as { remoteEnded: () => void }).remoteEnded = () => undefined;
    const baseline = heapUsedBytes();
    let peakHeap = 0;
    const started = performance.now();
    while (performance.now() - started < 1500 && link.isConnected) {
      for (let i = 0; i < 500; i++) link.trySend(APP, new Uint8Array(0));
      await new Promise((resolve) => setImmediate(resolve));
      peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed - baseline);
    }
    expect(calls, 'disconnect() calls made during the close').toBeGreaterThan(50_000);
    // Before: a close waiter and a promise per call, ~1.2 KB each: +612 MB within a 5 s close.
    expect(peakHeap, 'heap at its peak').toBeLessThan(64 * 1024 * 1024);
    await waitFor(() => victim!.peers.length === 0, 3000, 'the peer cut at closeTimeoutMs');
  });
});

describe('a peer whose messages are refused while we close it gracefully', () => {
  it('is cut with its own error at the first refusal, not read and forgiven until closeTimeoutMs', async () => {
    let refused = 0;
    const app: Agent = {
      channels: CHANNELS,
      // An async receive that refuses junk: the Switch stops the sender (stopPeerForError).
      receive: async (_channel, _peer, message) => {
        if (message[0] !== 0xff) return;
        refused++;
        throw new Error('junk');
      },
    };
    const node = await startNode({ channels: [{ id: 0x50 }], agents: { app }, connection: { closeTimeoutMs: 3000 } });
    const departures: { reason: Error | undefined; at: number }[] = [];
    node.sw.on('peer:disconnected', ({ reason }) => void departures.push({ reason, at: performance.now() }));
    const attacker = await startNode({ channels: CHANNELS, moniker: UNWANTED });
    const link = await attacker.sw.dial(node.address);
    // It keeps sending after we end our side (it never takes that as a close).
    (link.connection as unknown as { remoteEnded: () => void }).remoteEnded = () => undefined;
    await waitFor(() => node.sw.peers.length === 1, 2000, 'the victim sees the attacker');
    void node.sw.disconnect(node.sw.peers[0]!);
    const started = performance.now();
    while (performance.now() - started < 3500 && departures.length === 0) {
      for (let i = 0; i < 50; i++) link.trySend(APP, new Uint8Array([0xff]));
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await waitFor(() => departures.length === 1, 4000, 'the attacker gone');
    // Before: 127,000 refused and forgiven over the 3 s close, then "Graceful close timed out" (ERR_TIMEOUT).
    expect(refused, 'refused messages read').toBeLessThan(100);
    expect(departures[0]!.at - started).toBeLessThan(1000);
    expect(departures[0]!.reason?.message).toBe('junk');
  });
});
