/**
 * Node WebRTC peers behind real NATs (nftables routers in network namespaces), meeting through a relay
 * on the lab's internet, with coturn as their STUN/TURN server. One lab serves the suite (two hosts
 * behind cone NATs, two behind symmetric ones); each test makes fresh nodes with its own ICE servers.
 * The lab is always torn down, also when a test fails. Needs root and namespaces: elsewhere the suite
 * is skipped, saying why.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IceServer } from '../../platforms/node/index.js';
import { startCoturn, type Coturn } from '../../testnet/lab/coturn.js';
import { LabNetwork, labSupport, type LabHost, type NatKind } from '../../testnet/lab/network.js';
import { NamespaceProcess, type JsonLine } from '../upnp/helpers/lab.js';

const support = labSupport();
if (!support.ok) console.warn(`test/testnet: skipping the NAT lab tests: ${support.why}`);

const RELAY_PORT = 26656;
const RELAY_WS_PORT = 26657;
const START_TIMEOUT_MS = 45_000;
/** Bounded dials: a failed ICE negotiation must surface as an error, not a hang. */
const DIAL_TIMEOUT_MS = 8000;
const FAIL_DIAL_TIMEOUT_MS = 5000;
/** How long a TURN-relayed link must keep working after connecting before it is trusted (see below). */
const RELAY_SURVIVAL_WAIT_MS = 3000;
/** After the data channel opens, the secure handshake over it has its own bound. */
const HANDSHAKE_TIMEOUT_MS = 10_000;

interface LabPeerHost {
  host: LabHost;
  proc: NamespaceProcess;
}

let lab: LabNetwork | undefined;
let coturn: Coturn;
let relayAddress: string;
let relayId: string;
let relayHome: string | undefined;
let relayWsAddress: string;
let bundleDir: string | undefined;
/** The Chromium page behind a symmetric NAT, when Debian's Chromium is installed (it is in CI). */
let page: LabPeerHost | undefined;
const peers = new Map<string, LabPeerHost>();

interface LabNode {
  at: LabPeerHost;
  nodeId: string;
}

/** A fresh node in the process on host `name`, connected to the relay, with these ICE servers. */
async function node(name: string, iceServers: IceServer[], dialTimeoutMs = DIAL_TIMEOUT_MS): Promise<LabNode> {
  const at = peers.get(name)!;
  const { nodeId } = await at.proc.call<{ nodeId: string }>('create', { iceServers, relay: relayAddress, dialTimeoutMs, handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS }, 15_000);
  return { at, nodeId };
}

function webrtcAddress(to: LabNode): string {
  return `webrtc://${to.nodeId}?via=${relayId}`;
}

/** `from` dials `to` over WebRTC through the relay; returns the dial, `from`'s route and what `to` saw. */
async function connect(from: LabNode, to: LabNode): Promise<{ dial: { peerId: string; transport: string }; route: JsonLine; seenByTarget: JsonLine }> {
  const dial = await from.at.proc.call<{ peerId: string; transport: string }>('dial', { node: from.nodeId, address: webrtcAddress(to) }, DIAL_TIMEOUT_MS + HANDSHAKE_TIMEOUT_MS + 5000);
  const route = await from.at.proc.waitFor((line) => line['event'] === 'route' && line['node'] === from.nodeId, 5000, 'the route');
  const seenByTarget = await to.at.proc.waitFor((line) => line['event'] === 'peer' && line['node'] === to.nodeId && line['transport'] === 'webrtc', 5000, 'the target to see a WebRTC peer');
  return { dial, route, seenByTarget };
}

async function expectEcho(from: LabNode, to: LabNode): Promise<void> {
  const echo = await from.at.proc.call('echo', { node: from.nodeId, peer: to.nodeId, text: 'through the NATs' }, 15_000);
  expect(echo).toEqual({ reply: 'pong:through the NATs', transport: 'webrtc' });
}

async function expectBoundedTypedFailure(from: LabNode, to: LabNode): Promise<void> {
  const error = await from.at.proc.callExpectingError('dial', { node: from.nodeId, address: webrtcAddress(to) }, FAIL_DIAL_TIMEOUT_MS + 10_000);
  expect(error).toMatchObject({ typed: true });
  expect(['ERR_TIMEOUT', 'ERR_TRANSPORT']).toContain(error['code']);
  expect(error['ms']).toBeLessThan(FAIL_DIAL_TIMEOUT_MS + 2000);
  expect(from.at.proc.events('peer').filter((line) => line['node'] === from.nodeId && line['transport'] === 'webrtc')).toEqual([]);
}

describe.skipIf(!support.ok)(`Node WebRTC peers behind NATs${support.ok ? '' : ` (skipped: ${support.why})`}`, () => {
  beforeAll(async () => {
    lab = await LabNetwork.create('rtc');
    const relayHost = await lab.addHost('relay');
    const turnHost = await lab.addHost('turn');
    const natOf: Record<string, NatKind> = { cone1: 'cone', cone2: 'cone', sym1: 'symmetric', sym2: 'symmetric' };
    const hosts = await Promise.all(Object.entries(natOf).map(([name, nat]) => lab!.addHost(name, { nat })));
    const pageHost = await lab.addHost('page', { nat: 'symmetric' });
    coturn = await startCoturn(turnHost);
    relayHome = mkdtempSync(path.join(tmpdir(), 'meshlink-lab-relay-'));
    bundleDir = mkdtempSync(path.join(tmpdir(), 'meshlink-lab-bundle-'));
    // The page loads the shipped browser bundle, built the way `npm run build:browser` builds it.
    await promisify(execFile)(process.execPath, ['platforms/browser/build.mjs', '--outdir', bundleDir], { timeout: 60_000 });
    // Every process starts at once: Node with tsx takes seconds here.
    const relayStart = NamespaceProcess.start(relayHost.namespace, 'demo/cli.ts', {
      args: ['node', '--listen', `tcp://0.0.0.0:${RELAY_PORT}`, '--ws', `0.0.0.0:${RELAY_WS_PORT}`, '--network', 'lab', '--home', relayHome, '--log-level', 'warn'],
      waitReady: false,
    });
    const pageStart = NamespaceProcess.start(pageHost.namespace, 'test/testnet/fixtures/rtc-page.ts', { args: [bundleDir], readyTimeoutMs: START_TIMEOUT_MS });
    const procs = await Promise.all(hosts.map((host) => NamespaceProcess.start(host.namespace, 'test/testnet/fixtures/rtc-peer.ts', { readyTimeoutMs: START_TIMEOUT_MS })));
    hosts.forEach((host, i) => peers.set(host.name, { host, proc: procs[i]! }));
    page = { host: pageHost, proc: await pageStart };
    const started = await (await relayStart).waitFor((line) => line['event'] === 'started', START_TIMEOUT_MS, 'the relay to start');
    relayId = String(started['nodeId']);
    relayAddress = `tcp://${relayId}@${relayHost.ip}:${RELAY_PORT}`;
    relayWsAddress = `ws://${relayId}@${relayHost.ip}:${RELAY_WS_PORT}/`;
  }, START_TIMEOUT_MS + 75_000);

  afterAll(() => {
    coturn?.stop();
    lab?.destroy(); // kills every process left in its namespaces
    if (relayHome !== undefined) rmSync(relayHome, { recursive: true, force: true });
    if (bundleDir !== undefined) rmSync(bundleDir, { recursive: true, force: true });
  });

  it('behind two cone NATs connect directly with STUN, each end authenticating the other\'s id', async () => {
    const [a, b] = [await node('cone1', [coturn.stun]), await node('cone2', [coturn.stun])];
    const { dial, route, seenByTarget } = await connect(a, b);
    expect(dial).toMatchObject({ peerId: b.nodeId, transport: 'webrtc' });
    expect(seenByTarget['id']).toBe(a.nodeId);
    // Server-reflexive to server-reflexive: the far end is b's router; coturn carries nothing.
    expect(route['remoteAddress']).toBe(b.at.host.publicIp);
    expect([route['localAddress'], route['remoteAddress']]).not.toContain(coturn.host.ip);
    await expectEcho(a, b);
  });

  it('behind two symmetric NATs connect through TURN with generated credentials, each end authenticating the other\'s id', { timeout: 90_000 }, async () => {
    const [a, b] = [await node('sym1', [coturn.stun, coturn.turn]), await node('sym2', [coturn.stun, coturn.turn])];
    const connected = await connect(a, b);
    const { dial, route, seenByTarget } = connected;
    expect(dial).toMatchObject({ peerId: b.nodeId, transport: 'webrtc' });
    expect(seenByTarget['id']).toBe(a.nodeId);
    // A relayed candidate at one end at least: its address is coturn's.
    expect([route['localAddress'], route['remoteAddress']]).toContain(coturn.host.ip);
    await expectEcho(a, b);
    // The relayed path outlives its first seconds: coturn once closed the allocation carrying it about a
    // second after ICE connected (see testnet/lab/coturn.ts), which a quick first echo could outrun.
    await new Promise((resolve) => setTimeout(resolve, RELAY_SURVIVAL_WAIT_MS));
    await expectEcho(a, b);
  });

  it('a Chromium page behind a symmetric NAT and a Node peer behind another connect through TURN, each end authenticating the other\'s id', { timeout: 90_000 }, async () => {
    const at = page!;
    const { nodeId: pageId } = await at.proc.call<{ nodeId: string }>('create', { iceServers: [coturn.stun, coturn.turn], relay: relayWsAddress }, 30_000);
    const nodePeer = await node('sym2', [coturn.stun, coturn.turn]);
    const dial = await at.proc.call<{ peerId: string; transport: string }>('dial', { address: webrtcAddress(nodePeer) }, DIAL_TIMEOUT_MS + HANDSHAKE_TIMEOUT_MS + 5000);
    expect(dial).toMatchObject({ peerId: nodePeer.nodeId, transport: 'webrtc' });
    // The Node end authenticated the page's id over the data channel, not just the relay's word.
    const seen = await nodePeer.at.proc.waitFor((line) => line['event'] === 'peer' && line['node'] === nodePeer.nodeId && line['id'] === pageId, 5000, 'the Node peer to see the page');
    expect(seen['transport']).toBe('webrtc');
    // Chromium's selected pair: a relayed candidate (coturn's address) at one end at least.
    const route = await at.proc.waitFor((line) => line['event'] === 'route' && line['peerId'] === nodePeer.nodeId, 5000, 'the page\'s route');
    expect([route['localAddress'], route['remoteAddress']]).toContain(coturn.host.ip);
    const echo = await at.proc.call('echo', { peer: nodePeer.nodeId, text: 'from a page behind a NAT' }, 15_000);
    expect(echo).toEqual({ reply: 'pong:from a page behind a NAT', transport: 'webrtc' });
  });

  it('behind two symmetric NATs with STUN only, fail with a typed error in bounded time', async () => {
    const [a, b] = [await node('sym1', [coturn.stun], FAIL_DIAL_TIMEOUT_MS), await node('sym2', [coturn.stun], FAIL_DIAL_TIMEOUT_MS)];
    await expectBoundedTypedFailure(a, b);
  });

  it('with no STUN or TURN configured, fail with a typed error in bounded time', async () => {
    const [a, b] = [await node('cone1', [], FAIL_DIAL_TIMEOUT_MS), await node('cone2', [], FAIL_DIAL_TIMEOUT_MS)];
    await expectBoundedTypedFailure(a, b);
  });
});

describe.skipIf(!support.ok)('the lab\'s NAT routers', () => {
  let probeLab: LabNetwork | undefined;
  afterAll(() => probeLab?.destroy());

  it.each([
    ['cone', 1],
    ['symmetric', 2],
  ] as const)('a %s NAT maps one socket to %i external port(s) for two destinations', async (nat, ports) => {
    probeLab ??= await LabNetwork.create('probe');
    const server = await probeLab.addHost(`server-${nat}`);
    const client = await probeLab.addHost(`client-${nat}`, { nat });
    const reflector = await NamespaceProcess.start(server.namespace, 'testnet/lab/nat-probe.mjs', { args: ['reflect', server.ip, '7001', '7002'] });
    try {
      const probe = await NamespaceProcess.start(client.namespace, 'testnet/lab/nat-probe.mjs', { args: ['probe', server.ip, '7001', '7002'], waitReady: false });
      const result = await probe.waitFor((line) => Array.isArray(line['mapped']), 10_000, 'the probe\'s mappings');
      const mapped = result['mapped'] as string[];
      expect(mapped).toHaveLength(2);
      for (const endpoint of mapped) expect(endpoint.startsWith(`${client.publicIp}:`)).toBe(true);
      expect(new Set(mapped).size).toBe(ports);
    } finally {
      await reflector.close(2000);
    }
  });
});
