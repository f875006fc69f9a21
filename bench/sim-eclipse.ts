/**
 * `npx tsx bench/sim-eclipse.ts [flags]`: a red-team scene for FailingNetworks in simulated time (the
 * simulator's parts: real Switches and PEXAgents over bench/sim-transport.ts, one /16 per honest node).
 *
 * Attackers (real listening nodes, `--attackers` of them on `--groups` /16s) answer every PEX request
 * with their own addresses and `--fakes` made-up ones inside the /16s where honest nodes live (those of
 * their own books, or with `--target-live` those of the honest nodes up now), so that honest networks'
 * dials fail and wait while the attackers' own answer. 3 seeds, `--honest` nodes starting over 60 s;
 * `--newcomers` join at `--join-at` s and are watched for `--watch` s. Scenario flags: `--churn SHARE`
 * (honest nodes leaving and as many joining, per minute, from the join on), `--seeds-die-at S` (then
 * joiners bootstrap from 2 live honest nodes), `--evict-at S` (every honest node drops its outbound
 * peers), `--loss P`, `--new-buckets N` (a smaller new table, whose buckets fill), `--honest-in-attacker-groups N`
 * (N honest nodes in the attackers' /16s, a shared cloud block: their answers share the attackers' address allowance). `--no-failing-networks` turns FailingNetworks off (its `failed` does nothing), the
 * code before it; compare runs with the same `--rng-seed`.
 *
 * Prints one JSON object: a per-minute timeline of honest nodes' outbound peers and the attackers' share,
 * the newcomers at +30 s … +900 s, the time to their first honest outbound peer, what honest nodes and
 * seeds hand a newcomer (honest, made-up, attackers' addresses), and how many networks wait.
 */
import { EventEmitter } from 'node:events';
import { PEXAgent, type PexAgentOptions } from '../src/pex/pex-agent.js';
import { FailingNetworks } from '../src/pex/failing-networks.js';
import { FAILING_NETWORK_STREAK } from '../src/pex/constants.js';
import type { Peer } from '../src/switch/peer.js';
import { Switch } from '../src/switch/switch.js';
import { answerFor } from '../src/pex/pex-answers.js';
import { AddressBook } from '../src/pex/address-book.js';
import { MemoryStorage } from '../src/storage/storage.js';
import { SimClock, SIM_EPOCH_MS } from './sim-clock.js';
import { AddressPlan, SIM_PORT, sample } from './sim-network.js';
import { simulatedHandshake, simulatedNodeKey } from './sim-handshake.js';
import { seededRandom } from './seeded-random.js';
import { SimInternet } from './sim-transport.js';

const argv = process.argv.slice(2);
const flag = (name: string, fallback: number): number => {
  const i = argv.indexOf(name);
  return i < 0 ? fallback : Number(argv[i + 1]);
};
const HONEST = flag('--honest', 200);
const ATTACKERS = flag('--attackers', 16);
const GROUPS = flag('--groups', 4);
const NEWCOMERS = flag('--newcomers', 20);
/** Made-up addresses per answer (the rest of the answer: the coalition's real addresses). */
const FAKES = flag('--fakes', 28);
const RNG_SEED = flag('--rng-seed', 1);
const JOIN_AT_SEC = flag('--join-at', 300);
const WATCH_SEC = flag('--watch', 900);
const LOSS = flag('--loss', 0);
const SEEDS_DIE_AT_SEC = flag('--seeds-die-at', -1);
/** Share of live honest nodes that leave (and as many fresh ones that join) per simulated minute, from the join time on. */
const CHURN = flag('--churn', 0);
/** Every established honest node drops all its outbound peers at this second (an eviction storm; negative: never). */
const EVICT_AT_SEC = flag('--evict-at', -1);
/** The liar knows which honest nodes are up (a crawler would): made-up addresses only in their /16s. */
const TARGET_LIVE = argv.includes('--target-live');
const FAILING_ON = !argv.includes('--no-failing-networks');
/** New buckets in every book (default 1024): fewer make a book whose buckets fill, where collisions are settled. */
const NEW_BUCKETS = flag('--new-buckets', 0);
/** PexConfig.newAddressBurstPerNetwork and newAddressesPerNetworkPerMinute of every node (default: the SDK's). */
const ADDRESS_BURST = flag('--address-burst', -1);
const ADDRESSES_PER_MINUTE = flag('--addresses-per-minute', -1);
/** At the end, save and load every established honest node's book and compare its answers before and after (a restart). */
const RESTART_ANSWERS = argv.includes('--restart-answers');
/** AddressBookConfig.firstHandLapseMs of every node, in seconds (default: the SDK's). */
const FIRST_HAND_LAPSE_SEC = flag('--first-hand-lapse', -1);
/** Honest nodes that share the attackers' /16s (a cloud block), spread over them; the rest each in a /16 of its own. */
const HONEST_IN_ATTACKER_GROUPS = flag('--honest-in-attacker-groups', 0);

if (!FAILING_ON) {
  FailingNetworks.prototype.failed = function (): void {};
}

EventEmitter.defaultMaxListeners = 1000;
const random = seededRandom(RNG_SEED);
const clock = new SimClock();
const internet = new SimInternet({ clock, random, latencyMs: 50, lossRate: LOSS });
const plan = new AddressPlan(random);
const sinceStart = (): number => clock.now() - SIM_EPOCH_MS;

type Kind = 'seed' | 'honest' | 'malicious' | 'newcomer';
interface Node {
  kind: Kind;
  host: string;
  sw: Switch;
  pex: PEXAgent;
  address: string;
}
const nodes: Node[] = [];
const kindOf = new Map<string, Kind>();
const seedAddresses: string[] = [];
const coalition: string[] = [];
const attackerGroups = Array.from({ length: GROUPS }, () => plan.freshGroup());

class PoisonAgent extends PEXAgent {
  protected override selectAddressesFor(peer: Peer): string[] {
    const max = this.config.maxAddressesPerResponse;
    const own = sample(coalition, Math.max(0, max - FAKES), random).filter((address) => !address.includes(peer.id));
    // The honest /16s this attacker heard of, from its own book (or, targeting, those of the nodes up now).
    const heardOf = [...new Set(this.book.entries().filter((info) => !coalition.includes(info.address)).map((info) => info.group))];
    const honestGroups = TARGET_LIVE
      ? liveHonest().map((node) => node.host.split('.').slice(0, 2).join('.'))
      : heardOf.filter((group) => group.startsWith('ipv4:')).map((group) => group.slice('ipv4:'.length));
    const fakes: string[] = [];
    while (honestGroups.length > 0 && fakes.length < FAKES) {
      const group = honestGroups[Math.floor(random() * honestGroups.length)]!;
      fakes.push(`tcp://${simulatedNodeKey(random).nodeId}@${group}.${1 + Math.floor(random() * 254)}.${1 + Math.floor(random() * 254)}:${SIM_PORT}`);
    }
    return [...own, ...fakes];
  }
}

/** Each node's book storage (`--restart-answers`), by address. */
const storages = new Map<string, MemoryStorage>();
const storageOf = (address: string): MemoryStorage => storages.get(address) ?? storages.set(address, new MemoryStorage()).get(address)!;
let seedsDead = false;
/** Honest nodes that churn took away. */
const left = new Set<Node>();
const liveHonest = (): Node[] => nodes.filter((n) => (n.kind === 'honest' || n.kind === 'newcomer') && n.sw.isRunning && !left.has(n));
function make(kind: Kind, host: string): Node {
  const key = simulatedNodeKey(random);
  const address = `tcp://${key.nodeId}@${host}:${SIM_PORT}`;
  const sw = new Switch({
    network: 'sim',
    identity: key,
    transports: [internet.transport(host)],
    listen: [`tcp://${host}:${SIM_PORT}`],
    maxOutbound: kind === 'seed' ? 20 : 10,
    maxInbound: kind === 'seed' ? 200 : 40,
    connection: { maxPacketPayloadBytes: 4096, maxBatchBytes: 8192 },
    random,
    clock,
    secureHandshake: simulatedHandshake,
  });
  const bucketKey = new Uint8Array(32).map(() => Math.floor(random() * 256));
  const seeds = seedsDead ? sample(liveHonest(), 2, random).map((n) => n.address) : seedAddresses.filter((seed) => seed !== address);
  const options: PexAgentOptions = {
    seeds,
    seedMode: kind === 'seed',
    random,
    bookOptions: { bucketKey, ...(NEW_BUCKETS > 0 && { newBucketCount: NEW_BUCKETS }), ...(RESTART_ANSWERS && { storage: storageOf(address) }),
      ...(FIRST_HAND_LAPSE_SEC >= 0 && { firstHandLapseMs: FIRST_HAND_LAPSE_SEC * 1000 }),
    },
    ...(ADDRESS_BURST >= 0 && { newAddressBurstPerNetwork: ADDRESS_BURST }),
    ...(ADDRESSES_PER_MINUTE >= 0 && { newAddressesPerNetworkPerMinute: ADDRESSES_PER_MINUTE }),
  };
  const pex = kind === 'malicious' ? new PoisonAgent(options) : new PEXAgent(options);
  sw.addAgent('pex', pex);
  if (kind === 'seed') seedAddresses.push(address);
  if (kind === 'malicious') coalition.push(address);
  kindOf.set(key.nodeId, kind);
  const node = { kind, host, sw, pex, address };
  nodes.push(node);
  return node;
}

const startAt = (node: Node, ms: number): void => {
  clock.setTimeout(() => void node.sw.start(), ms);
};

for (let i = 0; i < 3; i++) startAt(make('seed', plan.freshHost()), 0);
for (let i = 0; i < ATTACKERS; i++) startAt(make('malicious', plan.hostIn(attackerGroups[i % GROUPS]!)), Math.floor(random() * 60_000));
for (let i = 0; i < HONEST; i++) {
  const host = i < HONEST_IN_ATTACKER_GROUPS ? plan.hostIn(attackerGroups[i % GROUPS]!) : plan.freshHost();
  startAt(make('honest', host), Math.floor(random() * 60_000));
}

/** The PEX agent's FailingNetworks and clock, which a bench may read and the API does not show. */
function internals(node: Node): { failing: FailingNetworks | undefined; streaks: Map<string, { failures: number }>; now: number } {
  const pex = node.pex as unknown as { dialer?: { failingNetworks: FailingNetworks }; paceNow: () => number };
  const failing = pex.dialer?.failingNetworks;
  const streaks = (failing as unknown as { streaks?: Map<string, { failures: number }> } | undefined)?.streaks ?? new Map<string, { failures: number }>();
  return { failing, streaks, now: pex.paceNow() };
}

function outboundOf(node: Node): { honest: number; malicious: number } {
  let honest = 0;
  let malicious = 0;
  for (const peer of node.sw.peers) {
    if (peer.direction !== 'outbound') continue;
    const kind = kindOf.get(peer.id);
    if (kind === 'malicious') malicious++;
    else if (kind !== 'seed') honest++;
  }
  return { honest, malicious };
}

const newcomers: { node: Node; firstHonestMs: number | null; atTargetMs: number | null }[] = [];
clock.setTimeout(() => {
  for (let i = 0; i < NEWCOMERS; i++) {
    const node = make('newcomer', plan.freshHost());
    newcomers.push({ node, firstHonestMs: null, atTargetMs: null });
    void node.sw.start();
  }
}, JOIN_AT_SEC * 1000);

if (SEEDS_DIE_AT_SEC >= 0)
  clock.setTimeout(() => {
    seedsDead = true;
    for (const node of nodes) if (node.kind === 'seed') void node.sw.stop();
  }, SEEDS_DIE_AT_SEC * 1000);
const timeline: string[] = [];
if (EVICT_AT_SEC >= 0)
  clock.setTimeout(() => {
    for (const node of nodes) if (node.kind === 'honest' && !left.has(node)) for (const peer of node.sw.peers) if (peer.direction === 'outbound') void node.sw.disconnect(peer);
  }, EVICT_AT_SEC * 1000);
if (CHURN > 0)
  clock.setTimeout(() => {
    clock.setInterval(() => {
      const live = liveHonest();
      const count = Math.round((CHURN * live.length) / 6);
      for (const node of sample(live.filter((n) => n.kind === 'honest'), count, random)) {
        left.add(node);
        void node.sw.stop();
        void make('honest', plan.freshHost()).sw.start();
      }
    }, 10_000);
  }, JOIN_AT_SEC * 1000);
clock.setInterval(() => {
  const live = nodes.filter((n) => n.kind === 'honest' && !left.has(n) && n.sw.peers.length > 0);
  const counts = live.map(outboundOf);
  const out = counts.reduce((sum, c) => sum + c.honest + c.malicious, 0);
  const mal = counts.reduce((sum, c) => sum + c.malicious, 0);
  const eclipsed = counts.filter((c) => c.honest === 0).length;
  const below5 = counts.filter((c) => c.honest + c.malicious < 5).length;
  timeline.push(`${sinceStart() / 1000}s out ${(out / live.length).toFixed(2)} mal ${(mal / Math.max(1, out)).toFixed(3)} noHonest ${eclipsed} below5 ${below5} waiting ${waitingNetworks(live).toFixed(2)} of ${live.length}`);
}, 60_000);

const checkpoints = [30, 60, 120, 300, 600, 900].filter((sec) => sec <= WATCH_SEC);
const rows: Record<string, { outbound: number; honest: number; malicious: number; minOutbound: number; minHonest: number; withoutHonest: number }> = {};
clock.setInterval(() => {
  const now = sinceStart();
  const since = now - JOIN_AT_SEC * 1000;
  if (since < 0) return;
  for (const entry of newcomers) {
    const { honest, malicious } = outboundOf(entry.node);
    if (entry.firstHonestMs === null && honest > 0) entry.firstHonestMs = since;
    if (entry.atTargetMs === null && honest + malicious >= 10) entry.atTargetMs = since;
  }
  if (checkpoints.includes(since / 1000)) {
    let outbound = 0;
    let honest = 0;
    let malicious = 0;
    let minOutbound = Infinity;
    let minHonest = Infinity;
    let withoutHonest = 0;
    for (const entry of newcomers) {
      const counts = outboundOf(entry.node);
      honest += counts.honest;
      malicious += counts.malicious;
      outbound += counts.honest + counts.malicious;
      minOutbound = Math.min(minOutbound, counts.honest + counts.malicious);
      minHonest = Math.min(minHonest, counts.honest);
      if (counts.honest === 0) withoutHonest++;
    }
    rows[`+${since / 1000}s`] = { outbound: outbound / newcomers.length, honest: honest / newcomers.length, malicious: malicious / newcomers.length, minOutbound, minHonest, withoutHonest };
  }
}, 1000);

await clock.runUntil(SIM_EPOCH_MS + (JOIN_AT_SEC + WATCH_SEC) * 1000, () => false);

// What honest established nodes hand a newcomer: real honest addresses among the answers.
let answered = 0;
let honestInAnswers = 0;
let fakeInAnswers = 0;
let withheldHonest = 0;
const realAddresses = new Set(nodes.map((node) => node.address));
const honestAddresses = new Set(nodes.filter((node) => node.kind === 'honest').map((node) => node.address));
/** Honest nodes that churn took away, whose addresses answers should stop handing out. */
const leftAddresses = new Set([...left].map((node) => node.address));
let deadInAnswers = 0;
let deadFirstHandEntries = 0;
let deadFirstHandInAnswers = 0;
/** Hearsay about nodes that left that the answering node never dialled: no failed dial judged it. */
let deadUndialledInAnswers = 0;
for (const node of nodes.filter((n) => n.kind === 'honest' && !left.has(n))) {
  const asker = newcomers[0]!.node.sw.peers[0];
  if (asker === undefined) break;
  const { failing, now } = internals(node);
  const isFailing = (address: string): boolean => failing?.isFailing(address, now) === true;
  const answer = answerFor(asker, { book: node.pex.book, config: node.pex.config, sw: node.sw, relayWebRtc: false, random, failingNetwork: isFailing });
  answered += answer.length;
  honestInAnswers += answer.filter((address) => honestAddresses.has(address)).length;
  fakeInAnswers += answer.filter((address) => !realAddresses.has(address)).length;
  for (const address of answer) {
    if (!leftAddresses.has(address)) continue;
    deadInAnswers++;
    const info = node.pex.book.get(address);
    if (info?.firstHand === true) deadFirstHandInAnswers++;
    else if (info?.attempts === 0) deadUndialledInAnswers++;
  }
  for (const info of node.pex.book.entries()) if (info.firstHand && leftAddresses.has(info.address)) deadFirstHandEntries++;
  for (const info of node.pex.book.entries()) if (honestAddresses.has(info.address) && info.firstHand === false && isFailing(info.address)) withheldHonest++;
}
const established = nodes.filter((n) => n.kind === 'honest' && !left.has(n));
const estOut = established.map(outboundOf);
const result = {
  failingNetworks: FAILING_ON,
  timeline,
  rngSeed: RNG_SEED,
  newcomers: rows,
  firstHonestSec: newcomers.map((entry) => (entry.firstHonestMs === null ? null : entry.firstHonestMs / 1000)).sort((a, b) => (a ?? 1e9) - (b ?? 1e9)),
  atTargetSec: newcomers.map((entry) => (entry.atTargetMs === null ? null : entry.atTargetMs / 1000)).sort((a, b) => (a ?? 1e9) - (b ?? 1e9)),
  established: {
    outbound: estOut.reduce((sum, c) => sum + c.honest + c.malicious, 0) / established.length,
    maliciousShare: estOut.reduce((sum, c) => sum + c.malicious, 0) / Math.max(1, estOut.reduce((sum, c) => sum + c.honest + c.malicious, 0)),
  },
  answers: { perAnswer: answered / established.length, honest: honestInAnswers / answered, fake: fakeInAnswers / answered, withheldHonestBookEntries: withheldHonest, dead: deadInAnswers / Math.max(1, answered), deadFirstHand: deadFirstHandInAnswers / Math.max(1, answered), deadUndialledHearsay: deadUndialledInAnswers / Math.max(1, answered), deadFirstHandPerBook: deadFirstHandEntries / Math.max(1, established.length) },
  dials: internet.dials,
  waitingNetworks: waitingNetworks(established),
  newcomerWaitingNetworks: waitingNetworks(newcomers.map((entry) => entry.node)),
  seeds: nodes.filter((n) => n.kind === 'seed').map((seed) => {
    const { failing, now } = internals(seed);
    const isFailing = (address: string): boolean => failing?.isFailing(address, now) === true;
    const liveHonestAddresses = new Set(liveHonest().map((n) => n.address));
    let known = 0;
    let withheld = 0;
    let reached = 0;
    let madeUp = 0;
    // First-hand entries (what a seed vouches for) of honest nodes that have left.
    let firstHandGone = 0;
    let firstHand = 0;
    for (const info of seed.pex.book.entries()) {
      if (!realAddresses.has(info.address)) madeUp++;
      if (info.firstHand) firstHand++;
      if (info.firstHand && honestAddresses.has(info.address) && !liveHonestAddresses.has(info.address)) firstHandGone++;
      if (!liveHonestAddresses.has(info.address)) continue;
      known++;
      if (info.lastSuccess > 0) reached++;
      if (info.firstHand === false && isFailing(info.address)) withheld++;
    }
    // What the seed vouches for to a newcomer (10 answers): live honest nodes, and attackers.
    const asker = { id: 'f'.repeat(40) } as Peer;
    let answered = 0;
    let honestVouched = 0;
    let attackersVouched = 0;
    for (let i = 0; i < 10; i++) {
      const answer = answerFor(asker, { book: seed.pex.book, config: seed.pex.config, sw: seed.sw, relayWebRtc: false, random, failingNetwork: isFailing });
      answered += answer.length;
      honestVouched += answer.filter((address) => liveHonestAddresses.has(address)).length;
      attackersVouched += answer.filter((address) => coalition.includes(address)).length;
    }
    return { answerHonest: honestVouched / Math.max(1, answered), answerAttackers: attackersVouched / Math.max(1, answered), waiting: waitingNetworks([seed]), liveHonestKnown: known, liveHonestReached: reached, liveHonestWithheld: withheld, liveHonest: liveHonestAddresses.size, bookSize: seed.pex.book.size(), madeUp, firstHand, firstHandGone, ...pexDials([seed]) };
  }),
  newcomerBookFakeShare: fakeShare(newcomers.map((entry) => entry.node)),
  establishedBookFakeShare: fakeShare(established),
  book: bookCensus(established),
  pexDials: pexDials([...established, ...newcomers.map((entry) => entry.node)]),
};
/**
 * How made-up addresses sit in honest books: per node (averaged), the entries and made-up ones, where
 * the made-up ones came from (an attacker, an honest node passing them on, a seed), how many are tried,
 * bad (isBad) or were dialled, and the most one source group holds in one book.
 */
function bookCensus(of: Node[]): Record<string, number> {
  const sum = { entries: 0, fake: 0, fakeFromAttackers: 0, fakeFromHonest: 0, fakeFromSeeds: 0, fakeTried: 0, fakeBad: 0, fakeDialled: 0, honestEntries: 0, sourceGroupsWithFakes: 0 };
  let maxFakePerSourceGroup = 0;
  for (const node of of) {
    const perSourceGroup = new Map<string, number>();
    for (const info of node.pex.book.entries()) {
      sum.entries++;
      if (honestAddresses.has(info.address)) sum.honestEntries++;
      if (realAddresses.has(info.address)) continue;
      sum.fake++;
      const sourceKind = kindOf.get(/[0-9a-f]{40}/.exec(info.source)?.[0] ?? '');
      if (sourceKind === 'malicious') sum.fakeFromAttackers++;
      else if (sourceKind === 'seed') sum.fakeFromSeeds++;
      else sum.fakeFromHonest++;
      if (info.bucketType === 'old') sum.fakeTried++;
      if (info.bad) sum.fakeBad++;
      if (info.attempts > 0) sum.fakeDialled++;
      const sourceGroup = /@(\d+\.\d+)\./.exec(info.source)?.[1] ?? info.source;
      perSourceGroup.set(sourceGroup, (perSourceGroup.get(sourceGroup) ?? 0) + 1);
    }
    sum.sourceGroupsWithFakes += perSourceGroup.size;
    for (const count of perSourceGroup.values()) maxFakePerSourceGroup = Math.max(maxFakePerSourceGroup, count);
  }
  const perNode = Object.fromEntries(Object.entries(sum).map(([key, value]) => [key, Math.round((10 * value) / Math.max(1, of.length)) / 10]));
  return { ...perNode, maxFakePerSourceGroup };
}
/** PEX dials by these nodes over the run, and the share that failed. */
function pexDials(of: Node[]): { dials: number; failedShare: number } {
  let dials = 0;
  let failed = 0;
  for (const node of of) {
    const stats = node.pex.stats();
    dials += stats.dials;
    failed += stats.dialFailures;
  }
  return { dials, failedShare: Math.round((1000 * failed) / Math.max(1, dials)) / 1000 };
}
function waitingNetworks(of: Node[]): number {
  let waiting = 0;
  for (const node of of) for (const streak of internals(node).streaks.values()) if (streak.failures >= FAILING_NETWORK_STREAK) waiting++;
  return waiting / Math.max(1, of.length);
}
function fakeShare(of: Node[]): number {
  let all = 0;
  let fake = 0;
  for (const node of of) for (const info of node.pex.book.entries()) {
    all++;
    if (!realAddresses.has(info.address)) fake++;
  }
  return fake / Math.max(1, all);
}
/** Answer length (to an asker not connected) of each established node's book, and of the book saved and loaded again. */
async function restartAnswers(): Promise<{ before: number; after: number }> {
  const asker = { id: 'f'.repeat(40) } as Peer;
  let before = 0;
  let after = 0;
  for (const node of established) {
    const answer = (book: AddressBook): number => answerFor(asker, { book, config: node.pex.config, sw: undefined, relayWebRtc: false, random }).length;
    before += answer(node.pex.book);
    // The save yields on the book's clock (afterBurst) between slices of a large book: the simulation has ended, so settle drives it.
    await Promise.all([node.pex.book.save(), clock.settle()]);
    const restored = new AddressBook({ storage: storageOf(node.address), now: () => clock.now(), random });
    await restored.load();
    after += answer(restored);
  }
  return { before: before / Math.max(1, established.length), after: after / Math.max(1, established.length) };
}
if (RESTART_ANSWERS) Object.assign(result, { restartAnswers: await restartAnswers() });
process.stdout.write(`${JSON.stringify(result, null, 1)}\n`);
process.exit(0);
