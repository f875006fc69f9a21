import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { expandNodes, loadManifest, ManifestError, schedule, validateManifest, type Manifest } from '../../testnet/manifest.js';
import { buildReport, formatReport, percentiles, type RunFacts } from '../../testnet/metrics.js';
import type { NodeEvent } from '../../testnet/node-process.js';

const base: Manifest = {
  name: 't',
  durationS: 60,
  nodes: [
    { name: 'relay', kind: 'relay' },
    { name: 'n', count: 6, kind: 'node' },
    { name: 'w', count: 2, kind: 'webrtc', nat: 'symmetric' },
  ],
};

function invalid(change: Record<string, unknown>): string {
  try {
    validateManifest({ ...base, ...change });
  } catch (error) {
    expect(error).toBeInstanceOf(ManifestError);
    return (error as Error).message;
  }
  throw new Error('expected a ManifestError');
}

describe('testnet manifests', () => {
  it('every manifest kept in the repo is valid', () => {
    const dir = path.join(import.meta.dirname, '../../testnet/manifests');
    const files = readdirSync(dir).filter((file) => file.endsWith('.json'));
    expect(files.length).toBeGreaterThanOrEqual(3);
    for (const file of files) expect(() => loadManifest(path.join(dir, file))).not.toThrow();
  });

  it('expands groups into numbered nodes that inherit the manifest\'s link', () => {
    const nodes = expandNodes({ ...base, link: { delayMs: 20 } });
    expect(nodes.map((node) => node.name)).toEqual(['relay', 'n01', 'n02', 'n03', 'n04', 'n05', 'n06', 'w01', 'w02']);
    expect(nodes[8]).toEqual({ name: 'w02', group: 'w', kind: 'webrtc', nat: 'symmetric', link: { delayMs: 20 } });
  });

  it('refuses manifests it cannot run, naming the field', () => {
    expect(invalid({ durationS: 0 })).toMatch(/durationS/);
    expect(invalid({ nodes: [{ name: 'n', kind: 'node' }] })).toMatch(/relay/);
    expect(invalid({ nodes: [{ name: 'r', kind: 'relay', nat: 'cone' }] })).toMatch(/public/);
    expect(invalid({ nodes: [...base.nodes, { name: 'x', kind: 'phone' }] })).toMatch(/kind/);
    expect(invalid({ link: { delayMs: -1 } })).toMatch(/link/);
    expect(invalid({ perturbations: [{ atS: 1, op: 'kill', nodes: ['nobody'] }] })).toMatch(/no node or group "nobody"/);
    expect(invalid({ perturbations: [{ atS: 1, op: 'loss', nodes: ['n01'] }] })).toMatch(/lossPct/);
    expect(invalid({ perturbations: [{ op: 'churn', everyS: 5, fraction: 0.3, downS: 5 }] })).toMatch(/churn/);
  });

  it('schedules churn as kill and restart of a rotating third of the non-relay nodes', () => {
    const m: Manifest = { ...base, durationS: 90, perturbations: [{ op: 'churn', everyS: 30, fraction: 1 / 3, downS: 5 }] };
    const actions = schedule(m, expandNodes(m));
    expect(actions.map((a) => `${a.atS} ${a.op} ${a.nodes.join(',')}`)).toEqual([
      '30 kill n01,n02,n03',
      '35 restart n01,n02,n03',
      '60 kill n04,n05,n06',
      '65 restart n04,n05,n06',
    ]);
  });

  it('turns a group name into its members and pause/cut with forS into resume/heal', () => {
    const m: Manifest = { ...base, perturbations: [{ atS: 10, op: 'pause', nodes: ['w'], forS: 3 }, { atS: 1, op: 'cut', nodes: ['n02'], forS: 2 }] };
    expect(schedule(m, expandNodes(m))).toEqual([
      { atS: 1, op: 'cut', nodes: ['n02'] },
      { atS: 3, op: 'heal', nodes: ['n02'] },
      { atS: 10, op: 'pause', nodes: ['w01', 'w02'] },
      { atS: 13, op: 'resume', nodes: ['w01', 'w02'] },
    ]);
  });
});

describe('testnet report', () => {
  const ids = { r: 'a'.repeat(40), x: 'b'.repeat(40), y: 'c'.repeat(40), z: 'd'.repeat(40) };
  const nodes = [
    { name: 'r', nodeId: ids.r, kind: 'relay' as const, nat: undefined, target: 1 },
    { name: 'x', nodeId: ids.x, kind: 'node' as const, nat: undefined, target: 1 },
    { name: 'y', nodeId: ids.y, kind: 'webrtc' as const, nat: 'symmetric', target: 1 },
    { name: 'z', nodeId: ids.z, kind: 'webrtc' as const, nat: 'cone', target: 1 },
  ];
  const connect = (t: number, node: string, peer: string, transport: 'tcp' | 'webrtc' = 'tcp', run = 1): NodeEvent => ({ t, node, run, kind: 'connected', peer, direction: 'outbound', transport });
  const tx = (t: number, node: string, hash: string, local = false, run = 1): NodeEvent => ({ t, node, run, kind: 'tx', hash, local });

  function facts(events: NodeEvent[], actions: RunFacts['actions'] = []): RunFacts {
    return { manifest: 't', nodes, events, actions, launchedAt: 0, meshAt: 500, windowStart: 1000, windowEnd: 5000, collectedAt: 9000, turnIp: '11.9.0.1', maxRssKb: new Map([['r', 80 * 1024]]), linkStats: {} };
  }

  const mesh: NodeEvent[] = [
    connect(100, 'x', ids.r), connect(100, 'r', ids.x),
    connect(200, 'y', ids.r), connect(200, 'r', ids.y),
    connect(300, 'z', ids.r), connect(300, 'r', ids.z),
    connect(400, 'y', ids.z, 'webrtc'), connect(400, 'z', ids.y, 'webrtc'),
    { t: 400, node: 'y', run: 1, kind: 'route', peer: ids.z, addresses: ['11.9.0.1', '11.4.0.1'] },
  ];

  it('counts deliveries to stable nodes, latency from origin, and duplicates', () => {
    const report = buildReport(facts([
      ...mesh,
      tx(2000, 'x', 'h1', true), tx(2040, 'r', 'h1'), tx(2090, 'y', 'h1'), tx(2100, 'z', 'h1'), tx(2500, 'z', 'h1'),
      tx(3000, 'r', 'h2', true), tx(3050, 'x', 'h2'),
    ]));
    expect(report.gossip).toMatchObject({ originated: 2, orphaned: 0, stableReceivers: 4, expectedDeliveries: 6, deliveries: 4, duplicates: 1 });
    expect(report.gossip.deliveryRatio).toBeCloseTo(4 / 6);
    expect(report.gossip.latencyMs).toMatchObject({ count: 4, max: 100 });
    expect(report.links).toEqual({ tcpToRelay: 3, tcpDirect: 0, webrtcDirect: 0, webrtcTurn: 1, webrtcUnknownRoute: 0 });
    expect(report.timeToTargetMs).toBe(500);
    expect(formatReport(report)).toContain('4/6 = 66.67 %');
  });

  it('leaves out txs of peerless origins and perturbed receivers, and times reconnects after restarts', () => {
    const report = buildReport(facts(
      [
        ...mesh,
        { t: 1500, node: 'x', run: 1, kind: 'exited', code: null },
        tx(1600, 'x', 'lonely', true, 1),
        { t: 2000, node: 'x', run: 2, kind: 'started' },
        connect(2300, 'x', ids.r, 'tcp', 2),
        tx(2600, 'r', 'h3', true), tx(2650, 'y', 'h3'), tx(2660, 'z', 'h3'), tx(2700, 'x', 'h3', false, 2),
      ],
      [{ t: 1400, op: 'kill', node: 'x' }, { t: 2000, op: 'restart', node: 'x' }],
    ));
    expect(report.gossip).toMatchObject({ originated: 2, orphaned: 1, stableReceivers: 3, expectedDeliveries: 2, deliveries: 2 });
    expect(report.reconnect['restart→first peer']).toMatchObject({ count: 1, max: 300, over10s: 0, never: 0 });
    expect(report.reconnect['restart→first gossip']).toMatchObject({ count: 1, max: 700 });
    // x was killed 1.2 s before h3 and restarted 0.6 s before it: not live for h3, so only y and z count.
    expect(report.gossip).toMatchObject({ liveExpected: 2, liveDeliveries: 2 });
  });

  it('takes percentiles by rank', () => {
    expect(percentiles([5, 1, 4, 2, 3])).toEqual({ count: 5, p50: 3, p90: 5, p99: 5, max: 5 });
    expect(percentiles([])).toEqual({ count: 0, p50: null, p90: null, p99: null, max: null });
  });
});
