import { existsSync } from 'node:fs';
import { LinkEmulator, type LinkShape } from './link-emulator.js';
import { run, runIn, runSync } from './shell.js';
import { isProcessAlive } from '../../platforms/node/home-lock.js';

/**
 * A lab network: every host in its own network namespace, all on one bridged "internet" (11.0.0.0/8,
 * an address range that exists only inside the lab), optionally behind its own NAT router.
 *
 * ```
 *   <prefix>-inet:  br0 ─┬─ host 1 eth0 11.1.0.1            (public)
 *                        ├─ router 2 wan0 11.2.0.1 ── lan0 192.168.2.1 ── host 2 eth0 192.168.2.2
 *                        └─ …
 * ```
 * Names carry the creating process id (`mlab-<pid>-<n>-…`), so parallel runs never collide and a
 * later run removes what a dead one left behind. Nothing is attached to the machine's own namespace.
 */

/** "cone": endpoint-independent mapping (Linux masquerade keeps the source port); "symmetric": a new random port per destination. */
export type NatKind = 'cone' | 'symmetric';
export const NAT_KINDS: readonly NatKind[] = ['cone', 'symmetric'];

export interface HostOptions {
  /** Put the host behind its own NAT router of this kind. @default public */
  nat?: NatKind;
  /** Latency, jitter and loss of the host's access link (through the link emulator). @default a plain veth */
  shape?: LinkShape;
}

export interface LabHost {
  readonly name: string;
  readonly index: number;
  readonly namespace: string;
  /** The address the internet sees: the host's own, or its router's. */
  readonly publicIp: string;
  /** The host's own address: `publicIp`, or its LAN address behind the router. */
  readonly ip: string;
  readonly nat: NatKind | undefined;
  readonly routerNamespace: string | undefined;
  /** Whether the access link runs through the link emulator (then `shapeLink` works on it). */
  readonly shaped: boolean;
}

const PREFIX_ROOT = 'mlab';
const MAX_HOSTS = 250;
let labsMade = 0;

/** Whether this machine can run the lab: Linux, root, namespaces, nft and the TUN device. */
export function labSupport(): { ok: true } | { ok: false; why: string } {
  if (process.platform !== 'linux') return { ok: false, why: `not Linux (${process.platform})` };
  if (process.getuid?.() !== 0) return { ok: false, why: 'not running as root' };
  if (!existsSync('/proc/self/ns/net')) return { ok: false, why: 'the kernel has no network namespaces' };
  const probe = `${PREFIX_ROOT}-${process.pid}-probe`;
  try {
    runSync('ip', ['netns', 'add', probe]);
    runSync('ip', ['netns', 'exec', probe, 'nft', 'list', 'ruleset']);
  } catch (error) {
    return { ok: false, why: `cannot create a network namespace with nftables (${String((error as Error).message).split('\n')[0]})` };
  } finally {
    try {
      runSync('ip', ['netns', 'del', probe]);
    } catch {
      // never created
    }
  }
  return { ok: true };
}

/** Removes the namespaces of labs whose creating process is gone. */
export function cleanStaleLabs(): string[] {
  const removed: string[] = [];
  for (const namespace of listNamespaces()) {
    const match = new RegExp(`^${PREFIX_ROOT}-(\\d+)-`).exec(namespace);
    if (match === null || isProcessAlive(Number(match[1]))) continue;
    deleteNamespaceSync(namespace);
    removed.push(namespace);
  }
  return removed;
}

export class LabNetwork {
  readonly prefix: string;
  readonly inet: string;
  private readonly hosts = new Map<string, LabHost>();
  private readonly namespaces: string[] = [];
  private emulator: LinkEmulator | undefined;
  private destroyed = false;
  /** Hosts get their index (and so their addresses) when adding starts: adds may run concurrently. */
  private hostsAdded = 0;

  private constructor(tag: string) {
    this.prefix = `${PREFIX_ROOT}-${process.pid}-${++labsMade}${tag === '' ? '' : `-${tag}`}`;
    this.inet = `${this.prefix}-inet`;
  }

  /** Makes the internet namespace with its bridge. Clean up with `destroy()` (also on failure). */
  static async create(tag = ''): Promise<LabNetwork> {
    cleanStaleLabs();
    const lab = new LabNetwork(tag);
    try {
      await lab.addNamespace(lab.inet);
      await run('ip', ['-n', lab.inet, 'link', 'add', 'br0', 'type', 'bridge']);
      await run('ip', ['-n', lab.inet, 'link', 'set', 'br0', 'up']);
    } catch (error) {
      lab.destroy();
      throw error;
    }
    return lab;
  }

  host(name: string): LabHost {
    const host = this.hosts.get(name);
    if (host === undefined) throw new Error(`no lab host "${name}"`);
    return host;
  }

  get allHosts(): LabHost[] {
    return [...this.hosts.values()];
  }

  /** Adds a host (and its router, with `nat`), its access link plain or shaped. */
  async addHost(name: string, options: HostOptions = {}): Promise<LabHost> {
    if (this.destroyed) throw new Error('the lab is destroyed');
    if (this.hosts.has(name)) throw new Error(`lab host "${name}" exists`);
    const index = ++this.hostsAdded;
    if (index > MAX_HOSTS) throw new Error(`a lab holds at most ${MAX_HOSTS} hosts`);
    const namespace = `${this.prefix}-h${index}`;
    const publicIp = `11.${index}.0.1`;
    await this.addNamespace(namespace);
    const routerNamespace = options.nat === undefined ? undefined : `${this.prefix}-r${index}`;
    const edge = routerNamespace ?? namespace;
    if (routerNamespace !== undefined) await this.addNamespace(routerNamespace);
    const edgeDevice = routerNamespace === undefined ? 'eth0' : 'wan0';
    await this.attachToInternet(name, index, edge, edgeDevice, options.shape);
    await run('ip', ['-n', edge, 'addr', 'add', `${publicIp}/8`, 'dev', edgeDevice]);
    await run('ip', ['-n', edge, 'link', 'set', edgeDevice, 'up']);
    let ip = publicIp;
    if (routerNamespace !== undefined) {
      ip = `192.168.${index}.2`;
      await run('ip', ['link', 'add', 'name', 'lan0', 'netns', routerNamespace, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', namespace]);
      await run('ip', ['-n', routerNamespace, 'addr', 'add', `192.168.${index}.1/24`, 'dev', 'lan0']);
      await run('ip', ['-n', routerNamespace, 'link', 'set', 'lan0', 'up']);
      await run('ip', ['-n', namespace, 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
      await run('ip', ['-n', namespace, 'link', 'set', 'eth0', 'up']);
      await run('ip', ['-n', namespace, 'route', 'add', 'default', 'via', `192.168.${index}.1`]);
      await runIn(routerNamespace, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
      await runIn(routerNamespace, 'nft', ['-f', '-'], natRuleset(options.nat!));
    }
    const host: LabHost = { name, index, namespace, publicIp, ip, nat: options.nat, routerNamespace, shaped: options.shape !== undefined };
    this.hosts.set(name, host);
    return host;
  }

  /** Changes the access link of a shaped host: delay, jitter, loss, cut or heal. */
  async shapeLink(name: string, shape: LinkShape): Promise<void> {
    const host = this.host(name);
    if (!host.shaped || this.emulator === undefined) throw new Error(`lab host "${name}" has no shaped link (give it a shape when adding it)`);
    await this.emulator.set(name, shape);
  }

  /** Frames forwarded and dropped per shaped link. */
  async linkStats(): Promise<Record<string, { up: [number, number]; down: [number, number] }>> {
    return this.emulator === undefined ? {} : this.emulator.stats();
  }

  /** Kills every process in the lab's namespaces and removes them. Idempotent, synchronous (exit handlers). */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.emulator?.stop();
    for (const namespace of [...this.namespaces].reverse()) deleteNamespaceSync(namespace);
  }

  private async addNamespace(namespace: string): Promise<void> {
    await run('ip', ['netns', 'add', namespace]);
    if (this.destroyed) {
      // destroy() ran while this add was under way: it could not see this namespace.
      deleteNamespaceSync(namespace);
      throw new Error('the lab is destroyed');
    }
    this.namespaces.push(namespace);
    await run('ip', ['-n', namespace, 'link', 'set', 'lo', 'up']);
  }

  /** Connects `device` in namespace `edge` to the bridge: a veth, or two TAPs joined by the emulator. */
  private async attachToInternet(name: string, index: number, edge: string, device: string, shape: LinkShape | undefined): Promise<void> {
    const port = `p${index}`;
    if (shape === undefined) {
      await run('ip', ['link', 'add', 'name', device, 'netns', edge, 'type', 'veth', 'peer', 'name', port, 'netns', this.inet]);
    } else {
      this.emulator ??= LinkEmulator.start(this.inet);
      const inner = `t${index}`;
      await this.emulator.add(name, inner, port, shape);
      await run('ip', ['-n', this.inet, 'link', 'set', inner, 'netns', edge]);
      await run('ip', ['-n', edge, 'link', 'set', inner, 'name', device]);
    }
    await run('ip', ['-n', this.inet, 'link', 'set', port, 'master', 'br0']);
    await run('ip', ['-n', this.inet, 'link', 'set', port, 'up']);
  }
}

/**
 * The router's rules. Linux conntrack filters inbound packets by the full 5-tuple either way
 * (address-and-port-dependent filtering); the mapping is what differs: plain masquerade keeps the
 * inside port for every destination, `random` draws a new port per connection, that is per
 * destination address and port.
 */
export function natRuleset(kind: NatKind): string {
  // Unsolicited packets from outside are dropped before conntrack confirms an entry for them, as
  // home routers do. Answered with ICMP instead, each would leave an entry holding the tuple that the
  // router's own mapping for that peer needs, and masquerade would then pick another port: hole
  // punching through two such "cone" routers would fail the way it does through symmetric ones.
  return `table ip lab_nat {
  chain input {
    type filter hook input priority 0; policy accept;
    iifname "wan0" ct state new drop
  }
  chain postrouting {
    type nat hook postrouting priority 100; policy accept;
    oifname "wan0" masquerade${kind === 'symmetric' ? ' random' : ''}
  }
}
`;
}

function listNamespaces(): string[] {
  try {
    return runSync('ip', ['netns', 'list'])
      .split('\n')
      .map((line) => line.split(' ')[0] ?? '')
      .filter((name) => name.startsWith(`${PREFIX_ROOT}-`));
  } catch {
    return [];
  }
}

function deleteNamespaceSync(namespace: string): void {
  try {
    for (const pid of runSync('ip', ['netns', 'pids', namespace]).split('\n').filter((line) => /^\d+$/.test(line.trim()))) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
  } catch {
    // no such namespace
  }
  try {
    runSync('ip', ['netns', 'del', namespace]);
  } catch {
    // already removed
  }
}
