import { readFileSync } from 'node:fs';
import type { LinkShape } from './lab/link-emulator.js';
import { NAT_KINDS, type NatKind } from './lab/network.js';

/**
 * A testnet manifest (JSON): which nodes, behind which NATs, on which links, and what happens to them.
 *
 * ```json
 * { "name": "lossy-20", "durationS": 60,
 *   "link": { "delayMs": 20, "jitterMs": 5, "lossPct": 0.5 },
 *   "nodes": [ { "name": "relay", "count": 2, "kind": "relay" },
 *              { "name": "n", "count": 18, "kind": "node" },
 *              { "name": "w", "count": 4, "kind": "webrtc", "nat": "symmetric" } ],
 *   "perturbations": [ { "atS": 20, "op": "kill", "nodes": ["n03"] }, { "atS": 30, "op": "restart", "nodes": ["n03"] },
 *                      { "op": "churn", "everyS": 30, "fraction": 0.33, "downS": 5 } ] }
 * ```
 * `link` shapes each host's access link in each direction: a packet between two hosts crosses two
 * access links, so 20 ms ± 5 ms and 0.5 % per link make about 40 ms ± 7 ms and 1 % between hosts.
 */

/** relay: public, takes inbound peers, relays signalling; node: plain TCP node; webrtc: also WebRTC (Node, @roamhq/wrtc). */
export type NodeKind = 'relay' | 'node' | 'webrtc';
const NODE_KINDS: readonly NodeKind[] = ['relay', 'node', 'webrtc'];

export interface NodeGroup {
  /** The node's name, or the group's prefix when `count` is given (`n` → n01, n02, …). */
  name: string;
  count?: number;
  kind: NodeKind;
  /** Behind a NAT router of this kind. Relays are always public. @default public */
  nat?: NatKind;
  /** This group's access links instead of the manifest's `link`. */
  link?: LinkShape;
}

export type PerturbationOp = 'kill' | 'restart' | 'pause' | 'resume' | 'cut' | 'heal' | 'loss';
const OPS: readonly PerturbationOp[] = ['kill', 'restart', 'pause', 'resume', 'cut', 'heal', 'loss'];

export interface TimedPerturbation {
  /** Seconds after the mesh formed. */
  atS: number;
  op: PerturbationOp;
  /** Node names or group names. */
  nodes: string[];
  /** `loss`: the new loss of the nodes' access links, percent. */
  lossPct?: number;
  /** `pause`/`cut`: resume/heal after this many seconds. */
  forS?: number;
}

/** Every `everyS`, kill a `fraction` of the non-relay nodes (a different slice each time) and restart them `downS` later. */
export interface Churn {
  op: 'churn';
  everyS: number;
  fraction: number;
  downS: number;
  fromS?: number;
  untilS?: number;
}

export type Perturbation = TimedPerturbation | Churn;

export interface Manifest {
  name: string;
  description?: string;
  /** Seconds of gossip (and perturbations) after the mesh formed. */
  durationS: number;
  /** Every node's access link (each direction). @default no emulation */
  link?: LinkShape;
  /** Each node originates a tx this often. @default 2000 */
  gossipIntervalMs?: number;
  /** A node is "in the mesh" at this many peers (relays: 1). @default 2 */
  outboundTarget?: number;
  /** `--max-outbound` of every node. @default the CLI's */
  maxOutbound?: number;
  /** Give up waiting for the mesh after this long. @default 180 */
  meshTimeoutS?: number;
  /** Seconds after the last perturbation and before the end during which txs are still counted as delivered. @default 10 */
  drainS?: number;
  nodes: NodeGroup[];
  perturbations?: Perturbation[];
}

/** One node after expanding groups. */
export interface NodeSpec {
  name: string;
  group: string;
  kind: NodeKind;
  nat: NatKind | undefined;
  link: LinkShape | undefined;
}

/** One scheduled action, with churn expanded. */
export interface ScheduledAction {
  atS: number;
  op: PerturbationOp;
  nodes: string[];
  lossPct?: number;
}

export class ManifestError extends Error {
  override readonly name = 'ManifestError';
}

export function loadManifest(file: string): Manifest {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ManifestError(`${file}: ${(error as Error).message}`);
  }
  return validateManifest(value, file);
}

function fail(where: string, message: string): never {
  throw new ManifestError(`${where}: ${message}`);
}

function isShape(value: unknown): value is LinkShape {
  if (value === null || typeof value !== 'object') return false;
  return Object.entries(value).every(([key, field]) => ['delayMs', 'jitterMs', 'lossPct'].includes(key) && typeof field === 'number' && field >= 0);
}

export function validateManifest(value: unknown, where = 'manifest'): Manifest {
  const m = value as Manifest;
  if (m === null || typeof m !== 'object') fail(where, 'not a JSON object');
  if (typeof m.name !== 'string' || m.name === '') fail(where, '"name" must be a string');
  if (typeof m.durationS !== 'number' || m.durationS <= 0) fail(where, '"durationS" must be a positive number');
  if (m.link !== undefined && !isShape(m.link)) fail(where, '"link" takes delayMs, jitterMs, lossPct (numbers ≥ 0)');
  if (!Array.isArray(m.nodes) || m.nodes.length === 0) fail(where, '"nodes" must be a non-empty array');
  for (const group of m.nodes) {
    if (typeof group.name !== 'string' || !/^[a-z][a-z0-9-]{0,20}$/.test(group.name)) fail(where, `node name "${String(group.name)}": lower-case letters, digits, dashes`);
    if (!NODE_KINDS.includes(group.kind)) fail(where, `node "${group.name}": kind must be ${NODE_KINDS.join(', ')}`);
    if (group.nat !== undefined && !NAT_KINDS.includes(group.nat)) fail(where, `node "${group.name}": nat must be ${NAT_KINDS.join(', ')}`);
    if (group.nat !== undefined && group.kind === 'relay') fail(where, `node "${group.name}": a relay has a public address (no nat)`);
    if (group.count !== undefined && (!Number.isInteger(group.count) || group.count < 1 || group.count > 99)) fail(where, `node "${group.name}": count 1..99`);
    if (group.link !== undefined && !isShape(group.link)) fail(where, `node "${group.name}": link takes delayMs, jitterMs, lossPct`);
  }
  if (!m.nodes.some((group) => group.kind === 'relay')) fail(where, 'at least one relay is needed (the others seed from the relays)');
  const names = new Set(expandNodes(m).map((node) => node.name));
  const groups = new Set(m.nodes.map((group) => group.name));
  for (const p of m.perturbations ?? []) {
    if (p.op === 'churn') {
      if (!(p.everyS > 0 && p.fraction > 0 && p.fraction <= 1 && p.downS >= 0 && p.downS < p.everyS)) fail(where, 'churn needs everyS > downS ≥ 0 and 0 < fraction ≤ 1');
      continue;
    }
    if (!OPS.includes(p.op)) fail(where, `perturbation op must be churn or ${OPS.join(', ')}`);
    if (typeof p.atS !== 'number' || p.atS < 0) fail(where, `${p.op}: "atS" must be a number ≥ 0`);
    if (!Array.isArray(p.nodes) || p.nodes.length === 0) fail(where, `${p.op}: "nodes" must list node or group names`);
    for (const name of p.nodes) if (!names.has(name) && !groups.has(name)) fail(where, `${p.op}: no node or group "${name}"`);
    if (p.op === 'loss' && !(typeof p.lossPct === 'number' && p.lossPct >= 0 && p.lossPct <= 100)) fail(where, 'loss needs "lossPct" 0..100');
  }
  return m;
}

export function expandNodes(m: Manifest): NodeSpec[] {
  return m.nodes.flatMap((group) => {
    const names = group.count === undefined ? [group.name] : Array.from({ length: group.count }, (_, i) => `${group.name}${String(i + 1).padStart(2, '0')}`);
    return names.map((name) => ({ name, group: group.name, kind: group.kind, nat: group.nat, link: group.link ?? m.link }));
  });
}

/** The perturbations as a time-ordered list of actions on node names. */
export function schedule(m: Manifest, nodes: readonly NodeSpec[]): ScheduledAction[] {
  const byGroup = (name: string): string[] => {
    const members = nodes.filter((node) => node.group === name).map((node) => node.name);
    return members.length > 0 ? members : [name];
  };
  const actions: ScheduledAction[] = [];
  const churnable = nodes.filter((node) => node.kind !== 'relay').map((node) => node.name);
  for (const p of m.perturbations ?? []) {
    if (p.op === 'churn') {
      const size = Math.max(1, Math.round(churnable.length * p.fraction));
      let offset = 0;
      for (let at = p.fromS ?? p.everyS; at <= (p.untilS ?? m.durationS) - p.downS; at += p.everyS) {
        const slice = Array.from({ length: size }, (_, i) => churnable[(offset + i) % churnable.length]!);
        offset = (offset + size) % churnable.length;
        actions.push({ atS: at, op: 'kill', nodes: slice }, { atS: at + p.downS, op: 'restart', nodes: slice });
      }
      continue;
    }
    const targets = [...new Set(p.nodes.flatMap(byGroup))];
    actions.push({ atS: p.atS, op: p.op, nodes: targets, ...(p.lossPct === undefined ? {} : { lossPct: p.lossPct }) });
    if (p.forS !== undefined && (p.op === 'pause' || p.op === 'cut')) actions.push({ atS: p.atS + p.forS, op: p.op === 'pause' ? 'resume' : 'heal', nodes: targets });
  }
  return actions.sort((a, b) => a.atS - b.atS);
}
