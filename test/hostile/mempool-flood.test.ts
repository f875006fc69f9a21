/**
 * The relay program's mempool (demo/agents/mempool.ts) passes every new tx it takes on to every other
 * peer. One authenticated peer flooding it with valid, distinct txs made the relay forward all of them:
 * honest peers' queues filled with the flood and their own txs were dropped on the way (found from
 * outside: a real `meshlink node` with two honest peers exchanging a tx every 100 ms stopped
 * delivering any for 15 s). Each peer now has an allowance of txs and bytes a second; its surplus is
 * dropped, the peer stays. Over real TCP on 127.0.0.1.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, expect, it } from 'vitest';
import { DEFAULT_MEMPOOL_PEER_BURST, DEFAULT_MEMPOOL_PEER_RATE_PER_S, MAX_TX_BYTES, MempoolAgent, MempoolCh, decodeTxMessage, encodeTxMessage } from '../../demo/agents/mempool.js';
import { nodeChaCha20Poly1305 } from '../../platforms/node/aead.js';
import { tcpTransport } from '../../platforms/node/tcp.js';
import { generateNodeKey } from '../../src/crypto/keys.js';
import { PROTOCOL_VERSION } from '../../src/switch/node-info.js';
import { upgradeLink } from '../../src/switch/upgrade.js';
import { parseAddress } from '../../src/transport/address.js';
import { PacketKind } from '../../src/wire/constants.js';
import { startNode, stopAll, type TestNode } from '../helpers/nodes.js';
import { waitFor } from '../helpers/wait.js';

afterEach(stopAll);

const OTHER_CH = [{ id: 0x20, priority: 1 }];
const FLOOD_TXS = 3000;
const HONEST_TXS = 20;

async function withMempool(): Promise<{ node: TestNode; mempool: MempoolAgent; txs: string[] }> {
  const txs: string[] = [];
  const mempool = new MempoolAgent({ onTx: (tx, { from }) => void (from !== undefined && txs.push(new TextDecoder().decode(tx))) });
  const node = await startNode({ channels: OTHER_CH, agents: { mempool } });
  return { node, mempool, txs };
}

it('one peer flooding distinct valid txs gets only its allowance passed on; honest txs all arrive', async () => {
  const relay = await withMempool();
  const a = await withMempool();
  // B reads every tx the relay passes on (as the lab's honest peers, and pages, do): what it gets is what the relay forwards.
  const b = await startNode({ channels: [{ id: MempoolCh, priority: 5 }] });
  const atB = (): string[] => b.agent.messages.map(({ message }) => new TextDecoder().decode(decodeTxMessage(message).tx));
  const attacker = await startNode({ channels: [{ id: MempoolCh, priority: 1, sendQueueCapacity: 4096 }] });
  for (const node of [a.node, b, attacker]) await node.sw.dial(relay.node.address);
  await waitFor(() => relay.node.sw.peers.length === 3, 5000, 'three peers on the relay');
  const started = performance.now();

  const toRelay = attacker.sw.peers[0]!;
  const flood = (async () => {
    for (let i = 0; i < FLOOD_TXS; i++) await toRelay.send(MempoolCh, encodeTxMessage(randomBytes(200)), { timeoutMs: 5000 });
  })();
  for (let i = 0; i < HONEST_TXS; i++) {
    a.mempool.addTx(new TextEncoder().encode(`A/${i}`));
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await flood;
  await waitFor(() => atB().filter((tx) => tx.startsWith('A/')).length === HONEST_TXS, 5000, 'every honest tx at B');
  const elapsedS = (performance.now() - started) / 1000;

  const junkAtB = atB().filter((tx) => !tx.startsWith('A/')).length;
  // Before: ~3,000 passed on (everything the relay read), and honest ones dropped from full queues.
  expect(junkAtB, `flood passed on to B in ${elapsedS.toFixed(1)} s`).toBeLessThanOrEqual(DEFAULT_MEMPOOL_PEER_BURST + DEFAULT_MEMPOOL_PEER_RATE_PER_S * (elapsedS + 1));
  expect(relay.mempool.rateLimited).toBeGreaterThan(0);
  expect(relay.node.sw.getPeer(attacker.key.nodeId), 'the flooder stays (its surplus is dropped)').toBeDefined();
});

it('a peer cut right after its flood (junk in the same write) gets no more than its allowance passed on', async () => {
  const relay = await withMempool();
  const key = generateNodeKey();
  const capacity = MAX_TX_BYTES + 64;
  const raw = await tcpTransport().dial(parseAddress(relay.node.address));
  const { link } = await upgradeLink(raw, {
    identity: key,
    localInfo: {
      id: key.nodeId, network: 'test-net', protocolVersion: PROTOCOL_VERSION, channels: [MempoolCh], recvMessageCapacities: [capacity],
      listenAddresses: [], moniker: '', software: 'x',
    },
    direction: 'outbound',
    expectedPeerId: relay.node.key.nodeId,
    timeoutMs: 5000,
    aead: nodeChaCha20Poly1305,
  });
  link.attach({ onData: () => undefined, onDrain: () => undefined, onClose: () => undefined });
  await waitFor(() => relay.node.sw.getPeer(key.nodeId) !== undefined, 3000, 'the attacker admitted');
  let gone = false;
  relay.node.sw.on('peer:disconnected', ({ peer }) => void (peer.id === key.nodeId && (gone = true)));

  // 1,000 distinct txs and an unknown packet kind, in one write: the relay reads all the txs into the
  // agent's inbox and cuts the peer in the same turn, before the agent has taken any of them.
  const TXS = 1000;
  const packets: Uint8Array[] = [];
  for (let i = 0; i < TXS; i++) {
    const message = encodeTxMessage(randomBytes(200));
    const packet = new Uint8Array(4 + message.length);
    packet.set([PacketKind.MsgEnd, MempoolCh, message.length >> 8, message.length & 0xff]);
    packet.set(message, 4);
    packets.push(packet);
  }
  packets.push(Uint8Array.of(0xff));
  link.write(Buffer.concat(packets));
  await waitFor(() => gone, 3000, 'the attacker cut');
  await new Promise((resolve) => setTimeout(resolve, 200));
  link.destroy();

  // Before: 585 of the 1,000 taken (its allowance was forgotten with the peer, and none meant no
  // limit; the rest waited paused behind the full inbox and went with the connection). Now ~206.
  expect(relay.txs.length).toBeLessThanOrEqual(DEFAULT_MEMPOOL_PEER_BURST + DEFAULT_MEMPOOL_PEER_RATE_PER_S);
  expect(relay.mempool.rateLimited).toBeGreaterThan(0);
});
