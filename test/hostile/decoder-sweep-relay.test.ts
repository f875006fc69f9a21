/**
 * The decoder sweep against the relay program itself: `meshlink node` as a child process (its PEX,
 * signalling relay, mempool, topology, chat and burst agents), on TCP and ws on 127.0.0.1. Two honest
 * nodes keep gossiping txs and chat through it while fresh-key attackers send every structural shape
 * of decoder-shapes.ts on every decoding channel: each attacker is told its typed refusal (the close
 * packet), the honest traffic still crosses the relay, its process stays up and `GET /status` answers
 * with the honest peers, and nothing reaches its stderr.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ChatCh } from '../../demo/agents/chat.js';
import { TopologyCh } from '../../demo/agents/topology.js';
import type { StartedInfo } from '../../demo/node-runner.js';
import { encodeMessage } from '../../src/wire/codec.js';
import { waitFor } from '../helpers/wait.js';
import { STRUCTURAL_SHAPES } from './decoder-shapes.js';
import { addressOf, attack, CHANNELS, cutAsTold, expectHonestTraffic, NETWORK, startRelayNode, stopRelayNodes } from './decoder-sweep-scene.js';
import { attackerChannels, connectAttacker, recordProcessFaults, stopHostileNodes, type Victim } from './harness.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** tsx compiles the CLI on start: slow on a loaded 2-core machine. */
const START_TIMEOUT_MS = 30_000;

const children = new Set<ChildProcess>();
let home: string | undefined;
afterEach(async () => {
  await stopRelayNodes();
  await stopHostileNodes();
  // Only the processes this file started.
  for (const child of children) child.kill('SIGKILL');
  children.clear();
  if (home !== undefined) await rm(home, { recursive: true, force: true });
  home = undefined;
});

interface RelayProcess {
  child: ChildProcess;
  started: StartedInfo;
  stderr: () => string;
  exited: () => boolean;
}

async function startRelayProgram(): Promise<RelayProcess> {
  home = await mkdtemp(join(tmpdir(), 'meshlink-sweep-'));
  const args = ['--import', 'tsx', 'demo/cli.ts', 'node', '--listen', 'tcp://127.0.0.1:0', '--ws', '127.0.0.1:0', '--status', '127.0.0.1:0', '--network', NETWORK, '--home', home, '--moniker', 'relay'];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stdout = '';
  let stderr = '';
  let exited = false;
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.once('exit', () => (exited = true));
  await waitFor(() => stdout.includes('\n') || exited, START_TIMEOUT_MS, 'the relay program to start');
  if (exited) throw new Error(`the relay program exited: ${stderr}`);
  return { child, started: JSON.parse(stdout.slice(0, stdout.indexOf('\n'))) as StartedInfo, stderr: () => stderr, exited: () => exited };
}

async function statusPeers(relay: RelayProcess): Promise<string[]> {
  const body = (await (await fetch(`${relay.started.status}/status`)).json()) as { peers: { id: string }[] };
  return body.peers.map((peer) => peer.id).sort();
}

describe('decoder sweep against `meshlink node` (child process)', { timeout: 180_000 }, () => {
  it('every structural shape on every decoding channel, over TCP and ws: the attacker is told its refusal, the relay stays up and relays, and what it passes on of a stranger\'s text its neighbours take', async () => {
    const faults = recordProcessFaults();
    const relay = await startRelayProgram();
    const [tcp, ws] = [addressOf(relay.started.listen, 'tcp'), addressOf(relay.started.listen, 'ws')];
    const one = await startRelayNode([tcp]);
    const two = await startRelayNode([ws]);
    const relayId = relay.started.nodeId;
    await waitFor(() => one.sw.getPeer(relayId) !== undefined && two.sw.getPeer(relayId) !== undefined, 10_000, 'the honest nodes reach the relay');
    await expectHonestTraffic(one, two, 0);

    // connectAttacker waits until the victim sees the attacker: here only the attacker can tell.
    const victim = { id: relayId, tcpAddress: tcp, wsAddress: ws, sw: { getPeer: () => true } } as unknown as Victim;
    await attack(victim, STRUCTURAL_SHAPES, CHANNELS, cutAsTold);

    expect(relay.exited(), 'the relay process is up').toBe(false);
    await expectHonestTraffic(two, one, 1);

    // Within every limit, but each control character becomes 3 bytes of U+FFFD when the relay passes it on.
    const cuts: string[] = [];
    for (const node of [one, two]) node.sw.on('peer:disconnected', ({ reason }) => void cuts.push(String(reason?.message)));
    const heard: string[] = [];
    two.chat.onMessage((message) => void heard.push(message.origin));
    const sender = await connectAttacker(victim, { channels: attackerChannels([ChatCh, TopologyCh]) });
    const controls = '\u0001'.repeat(22);
    await sender.peer.send(ChatCh, encodeMessage({ id: new Uint8Array(16).fill(9), origin: sender.id, name: controls, text: `${'\u0007'.repeat(340)}!`, hops: 0 }));
    await sender.peer.send(TopologyCh, encodeMessage({ origin: sender.id, seq: Date.now(), moniker: controls, kind: 'node', hops: 0, links: [] }));
    await waitFor(() => heard.includes(sender.id), 5000, 'the chat message crosses the relay');
    await expectHonestTraffic(one, two, 2);
    expect(cuts, 'the honest nodes keep the relay').toEqual([]);
    expect(await statusPeers(relay)).toEqual([one.sw.nodeId, two.sw.nodeId, sender.id].sort());
    expect(relay.stderr(), 'nothing on the relay stderr').toBe('');
    faults.stop();
    expect(faults.faults, 'uncaught exceptions / unhandled rejections here').toEqual([]);
  });
});
