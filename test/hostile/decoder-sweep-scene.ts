/**
 * The scene of the decoder sweeps over real sockets (decoder-sweep-node.test.ts, in process, and
 * decoder-sweep-relay.test.ts, the `meshlink node` program as a child process): relay-like nodes made by
 * createNode with the relay program's agents, fresh-key attackers sending one shape each, and the check
 * that honest traffic still flows.
 */
import { expect } from 'vitest';
import { BurstAgent, BurstCh } from '../../demo/agents/burst.js';
import { ChatAgent, ChatCh, type ChatDelivery } from '../../demo/agents/chat.js';
import { MempoolAgent, MempoolCh, txHash } from '../../demo/agents/mempool.js';
import { TopologyAgent, TopologyCh } from '../../demo/agents/topology.js';
import { createNode, MemoryStorage, type Switch } from '../../platforms/node/index.js';
import { MeshlinkError } from '../../src/errors.js';
import { PEX_CHANNEL_ID } from '../../src/pex/constants.js';
import { SIGNAL_CHANNEL_ID } from '../../src/webrtc/constants.js';
import { waitFor } from '../helpers/wait.js';
import type { Shape } from './decoder-shapes.js';
import { attackerChannels, connectAttacker, type Victim } from './harness.js';

/** The harness's attackers join this network. */
export const NETWORK = 'hostile-net';
export const CUT_OFF_MS = 3000;
/** Every channel whose agent decodes peer bytes. */
export const CHANNELS: readonly { name: string; id: number }[] = [
  { name: 'PEX', id: PEX_CHANNEL_ID },
  { name: 'signal', id: SIGNAL_CHANNEL_ID },
  { name: 'mempool', id: MempoolCh },
  { name: 'topology', id: TopologyCh },
  { name: 'chat', id: ChatCh },
];
/** What a refusal may say: a shape over a channel's recvMessageCapacity is refused before it is decoded. */
export const REFUSALS = ['ERR_MALFORMED_MESSAGE', 'ERR_MESSAGE_TOO_LARGE', 'ERR_PEX_INVALID_ADDRESS'];

export interface RelayNode {
  sw: Switch;
  mempool: MempoolAgent;
  chat: ChatAgent;
}

const nodes: Switch[] = [];

export async function stopRelayNodes(): Promise<void> {
  await Promise.all(nodes.splice(0).map((sw) => sw.stop()));
}

/** createNode as the relay program makes it (demo/node-runner.ts), in memory, on TCP and ws. */
export async function startRelayNode(persistentPeers: string[] = []): Promise<RelayNode> {
  const sw = await createNode({
    storage: new MemoryStorage(),
    network: NETWORK,
    listen: ['tcp://127.0.0.1:0', 'ws://127.0.0.1:0/'],
    persistentPeers,
    relay: true,
    pex: { allowLocal: false, ensurePeersIntervalMs: 60_000 },
    // Every attacker comes from 127.0.0.1.
    maxPendingInboundPerHost: 64,
    maxInbound: 200,
  });
  nodes.push(sw);
  const mempool = new MempoolAgent();
  const chat = new ChatAgent();
  sw.addAgent('mempool', mempool).addAgent('topology', new TopologyAgent({ kind: 'relay' })).addAgent('chat', chat).addAgent('burst', new BurstAgent());
  await sw.start();
  return { sw, mempool, chat };
}

/** Waits until both ends see the connection (the dialer learns of it after the acceptor). */
export async function connected(a: Switch, b: Switch): Promise<void> {
  await waitFor(() => a.getPeer(b.nodeId) !== undefined && b.getPeer(a.nodeId) !== undefined, 10_000, 'the honest peers connect');
}

/** The harness's view of an in-process victim (what connectAttacker reads), recording its disconnects. */
export function asVictim(sw: Switch): Victim {
  const disconnects: Victim['disconnects'] = [];
  sw.on('peer:disconnected', ({ peer, reason }) => disconnects.push({ id: peer.id, reason, at: Date.now() }));
  return { sw, id: sw.nodeId, tcpAddress: addressOf(sw.addresses, 'tcp'), wsAddress: addressOf(sw.addresses, 'ws'), disconnects } as unknown as Victim;
}

export function addressOf(addresses: readonly string[], protocol: 'tcp' | 'ws'): string {
  return addresses.find((a) => a.startsWith(`${protocol}://`))!;
}

/**
 * One fresh attacker per (channel, shape), alternating TCP and ws; each must be cut with a typed refusal
 * naming it. `cutOf` waits for the cut and returns its error (as the victim or the attacker saw it).
 */
export async function attack(
  victim: Victim,
  shapes: readonly Shape[],
  channels: readonly { name: string; id: number }[],
  cutOf: CutOf,
): Promise<void> {
  let index = 0;
  for (const shape of shapes) {
    await Promise.all(
      channels.map(async (channel) => {
        const via = index++ % 2 === 0 ? 'tcp' : 'ws';
        const what = `${channel.name} ← ${shape.name} (${via})`;
        const attacker = await connectAttacker(victim, { via, channels: attackerChannels([MempoolCh, TopologyCh, ChatCh, BurstCh]) });
        // What the attacker is told (the victim's close packet), recorded from before it sends.
        const told: (Error | undefined)[] = [];
        attacker.sw.on('peer:disconnected', ({ reason }) => void told.push(reason));
        const since = Date.now();
        expect(await attacker.peer.send(channel.id, shape.bytes, { timeoutMs: 1000 }), `${what}: queued`).toBe(true);
        const reason = await cutOf({ id: attacker.id, told }, since, what);
        expect(reason, what).toBeInstanceOf(MeshlinkError);
        expect(REFUSALS, `${what}: ${reason?.message}`).toContain((reason as MeshlinkError).code);
      }),
    );
  }
}

/** Waits for an attacker's cut and returns its error, as the victim (in process) or the attacker saw it. */
export type CutOf = (attacker: { id: string; told: readonly (Error | undefined)[] }, since: number, what: string) => Promise<Error | undefined>;

/** The victim's own record of the cut: its error must name the attacker. */
export function cutByVictim(victim: Victim): CutOf {
  return async (attacker, since, what) => {
    const found = () => victim.disconnects.find((d) => d.id === attacker.id && d.at >= since - 1);
    await waitFor(() => found() !== undefined, CUT_OFF_MS, what);
    const reason = found()!.reason as MeshlinkError | undefined;
    expect(reason?.peerId, `${what}: the error names the attacker`).toBe(attacker.id);
    return reason;
  };
}

/** The cut as the attacker was told it (a victim in another process): the close packet's code. */
export const cutAsTold: CutOf = async (attacker, _since, what) => {
  await waitFor(() => attacker.told.length > 0, CUT_OFF_MS, what);
  return attacker.told[0];
};

/** `from` originates a tx and a chat message; both must reach `to` (directly or through a relay). */
export async function expectHonestTraffic(from: RelayNode, to: RelayNode, round: number): Promise<void> {
  const tx = new TextEncoder().encode(`honest tx ${round} ${Math.random()}`);
  const hash = txHash(tx);
  const text = `honest chat ${round}`;
  const seen: ChatDelivery[] = [];
  const off = to.chat.onMessage((message) => void seen.push(message));
  try {
    expect(from.mempool.addTx(tx)).toBe(true);
    from.chat.send(text);
    await waitFor(() => to.mempool.has(hash) && seen.some((m) => m.text === text), 5000, `round ${round}: the honest tx and chat arrive`);
  } finally {
    off();
  }
}

/** Whether `decode` refuses `bytes` on its own. */
export function refuses(decode: (bytes: Uint8Array) => unknown, bytes: Uint8Array): boolean {
  try {
    decode(bytes);
    return false;
  } catch {
    return true;
  }
}
