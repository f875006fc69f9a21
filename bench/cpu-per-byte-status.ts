/**
 * The relay program's `GET /status` in bench/cpu-per-byte.ts `--handlers`: a stranger's request of ~40
 * bytes makes the node describe its peers and its topology table, which peers fill. Measured over a
 * real HTTP connection on 127.0.0.1 (this process is both ends; the client only writes requests and
 * counts answer bytes), with the table a hostile peer fills (64 origins of 32 links each) against a
 * typical one, 4 requests pipelined at a time (the server's cap per connection).
 */
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { startHttpServer } from '../demo/http-server.js';
import { TopologyAgent, TopologyCh, encodeAnnouncement } from '../demo/agents/topology.js';
import type { Peer } from '../src/switch/peer.js';
import type { Switch } from '../src/switch/switch.js';
import { systemClock } from '../src/util/clock.js';
import type { HandlerResult } from './cpu-per-byte-handlers.js';

const hexId = (): string => randomBytes(20).toString('hex');

/** A TopologyAgent whose table one peer filled with `origins` origins of `links` links each. */
export function filledTopology(origins: number, links: number): TopologyAgent {
  const nodeId = hexId();
  const sender = { id: hexId(), data: new Map(), hasChannel: (id: number) => id === TopologyCh } as unknown as Peer;
  const sw = { nodeId, options: { moniker: 'victim' }, peers: [], getPeer: () => undefined } as unknown as Switch;
  const agent = new TopologyAgent({ kind: 'relay', peerBurst: 10_000 });
  agent.start(sw);
  agent.stop(); // no timers: the table is all we need
  (agent as unknown as { sw: Switch }).sw = sw;
  agent.addPeer(sender);
  for (let i = 0; i < origins; i++) {
    const announcement = { origin: hexId(), seq: 1, moniker: 'm'.repeat(64), kind: 'node' as const, hops: 1, links: Array.from({ length: links }, () => ({ peer: hexId(), transport: 'webrtc' as const })) };
    agent.receive(TopologyCh, sender, encodeAnnouncement(announcement));
  }
  return agent;
}

/** What a `meshlink node` with `peers` peers and this table answers at /status (see demo/node-runner.ts). */
function nodeStatus(peers: number, topology: TopologyAgent): () => unknown {
  const peer = (): unknown => ({
    id: hexId(), moniker: 'm'.repeat(64), address: `tcp://${hexId()}@203.0.113.7:26656`, direction: 'inbound', transport: 'tcp', persistent: false,
    state: 'open', uptimeMs: 1, sentBytes: 1, receivedBytes: 1, linkBufferedBytes: 0, lastPingRttMs: 1,
    channels: [0, 1, 0x30, 0x31, 0x32].map((id) => ({ id, name: 'x', sendQueueSize: 0, sendQueueCapacity: 10, priority: 1, recvMessageCapacity: 1 })),
  });
  const list = Array.from({ length: peers }, peer);
  return () => ({ nodeId: hexId(), network: 'meshlink-demo', moniker: 'relay', listen: [], peers: list, topology: topology.snapshot() });
}

/** µs of this process's CPU per `GET /status`, and the answer's size. */
async function statusCost(status: () => unknown, budgetMs: number): Promise<{ us: number; requestBytes: number; answerBytes: number }> {
  const server = await startHttpServer({ at: { host: '127.0.0.1', port: 0 }, status });
  const { port } = new URL(server.url);
  const request = 'GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
  const socket = connect(Number(port), '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  let received = 0;
  let answers = 0;
  let want = 0;
  let wake: (() => void) | undefined;
  // Each answer starts with its status line; the JSON body holds none. A search of the bytes (with the
  // last chunk's tail, in case a status line is split) keeps the client's share of the CPU small.
  const statusLine = Buffer.from('HTTP/1.1 200 ');
  let tail = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    received += chunk.length;
    const count = (bytes: Buffer): void => {
      for (let at = bytes.indexOf(statusLine); at >= 0; at = bytes.indexOf(statusLine, at + 1)) answers++;
    };
    if (tail.length > 0) count(Buffer.concat([tail, chunk.subarray(0, statusLine.length - 1)]));
    count(chunk);
    tail = Buffer.from(chunk.subarray(Math.max(0, chunk.length - statusLine.length + 1)));
    if (answers >= want) wake?.();
  });
  const round = async (): Promise<void> => {
    want = answers + 4;
    const done = new Promise<void>((resolve) => (wake = resolve));
    socket.write(request.repeat(4));
    await done;
  };
  for (let i = 0; i < 3; i++) await round();
  const start = process.cpuUsage();
  const receivedBefore = received;
  const answersBefore = answers;
  const t0 = performance.now();
  while (performance.now() - t0 < budgetMs) await round();
  const used = process.cpuUsage(start);
  const count = answers - answersBefore;
  socket.destroy();
  await server.close();
  return { us: (used.user + used.system) / count, requestBytes: request.length, answerBytes: (received - receivedBefore) / count };
}

export async function statusCases(budgetMs: number): Promise<HandlerResult[]> {
  const cases: [string, number, TopologyAgent][] = [
    ['typical: 8 peers, 12 origins of 3 links', 8, filledTopology(12, 3)],
    ['one peer filled the table: 64 origins of 32 links', 8, filledTopology(64, 32)],
  ];
  const out: HandlerResult[] = [];
  for (const [input, peers, topology] of cases) {
    const { us, requestBytes, answerBytes } = await statusCost(nodeStatus(peers, topology), budgetMs);
    out.push({ handler: 'relay HTTP GET /status', input: `${input} (answer ${Math.round(answerBytes / 1024)} KiB)`, bytes: requestBytes, usPerMessage: Math.round(us), usPerKiB: Math.round(us / (requestBytes / 1024)) });
  }
  return out;
}

/** A TopologyAgent with `peers` peers that take everything: what accepting one announcement costs, forwarding included. */
export function topologyForwardCost(peers: number, links: number, budgetMs: number, cpuPerFresh: <T>(setup: (i: number) => T, run: (state: T) => void, budgetMs: number) => number): { bytes: number; us: number } {
  const fake = (): Peer => ({ id: hexId(), data: new Map(), hasChannel: () => true, maxMessageBytes: () => 1 << 20, trySend: () => true }) as unknown as Peer;
  const list = Array.from({ length: peers }, fake);
  const sw = { nodeId: hexId(), options: { moniker: 'victim', clock: systemClock }, peers: list, getPeer: () => undefined } as unknown as Switch;
  // Bursts that never run out, so that every announcement is passed on at once through the pace.
  const agent = new TopologyAgent({ kind: 'relay', peerBurst: 1e9, maxNodes: 1e9 });
  agent.start(sw);
  for (const peer of list) agent.addPeer(peer);
  const sender = list[0]!;
  const message = (): Uint8Array => encodeAnnouncement({ origin: hexId(), seq: 1, moniker: 'm'.repeat(64), kind: 'node', hops: 1, links: Array.from({ length: links }, () => ({ peer: hexId(), transport: 'webrtc' as const })) });
  const sample = message();
  const us = cpuPerFresh(() => message(), (bytes) => agent.receive(TopologyCh, sender, bytes), budgetMs);
  agent.stop();
  return { bytes: sample.length, us };
}
