import type { Socket } from 'node:net';
import { HostSlots, slotHolderOf, type SlotHolder } from '../../src/transport/host-slots.js';

/** TCP connections to our WebSocket server that have not completed their HTTP upgrade yet, in all. */
export const WS_DEFAULT_MAX_PENDING_UPGRADES = 64;
/** The same, from one IPv4 address or IPv6 /64 (as the Switch's per-host handshake cap). */
export const WS_DEFAULT_MAX_PENDING_UPGRADES_PER_HOST = 8;
/**
 * A connection that has not completed its upgrade by then is cut. An upgrade is one small request:
 * Node's own header timeout (60 s, checked every 30 s) would let one host hold sockets for 90 s.
 */
export const WS_DEFAULT_UPGRADE_TIMEOUT_MS = 10 * 1000;

export interface UpgradeGuardLimits {
  maxPendingUpgrades: number;
  maxPendingUpgradesPerHost: number;
  upgradeTimeoutMs: number;
}

/**
 * The Acceptor's caps start once a link exists, i.e. after the upgrade; this guards the HTTP phase
 * before it, which `ws` leaves open: every accepted TCP connection counts as pending (in all and per
 * host group) until it upgrades or closes, one over its host's cap is destroyed on arrival, one that
 * finds every slot held takes the place of the oldest of the busiest host (or is destroyed when its own
 * host is that busy), and one that has not upgraded within the deadline is destroyed. Holds at most `maxPendingUpgrades` entries.
 * The relay program's HTTP server uses it too, with a connection's whole life as the pending phase.
 */
export class UpgradeGuard {
  private readonly pending = new Map<Socket, { holder: SlotHolder; timer: ReturnType<typeof setTimeout> }>();
  private readonly pendingByHost = new HostSlots();

  constructor(
    private readonly limits: UpgradeGuardLimits,
    /** Reverse proxies' addresses: their connections count only against the total (one proxy carries every client). */
    private readonly trustedProxies: ReadonlySet<string> = new Set(),
  ) {}

  /** A TCP connection arrived at the HTTP server. */
  readonly onConnection = (socket: Socket): void => {
    const holder: SlotHolder = this.trustedProxies.has(socket.remoteAddress ?? '')
      ? { host: undefined, network: undefined }
      : slotHolderOf(`${socket.remoteAddress?.includes(':') === true ? `[${socket.remoteAddress}]` : socket.remoteAddress}:${socket.remotePort ?? 0}`);
    if (this.pendingByHost.held(holder.host) >= this.limits.maxPendingUpgradesPerHost || (this.pending.size >= this.limits.maxPendingUpgrades && !this.makeRoomFor(holder))) {
      socket.destroy();
      return;
    }
    this.pendingByHost.take(holder);
    const timer = setTimeout(() => socket.destroy(), this.limits.upgradeTimeoutMs);
    timer.unref();
    this.pending.set(socket, { holder, timer });
    socket.once('close', () => this.release(socket));
  };

  /** Full: the oldest connection of the busiest host of the busiest network gives way to a newcomer (HostSlots.busiest says when). */
  private makeRoomFor(newcomer: SlotHolder): boolean {
    const busiest = this.pendingByHost.busiest(newcomer);
    if (busiest === undefined) return false;
    for (const [socket, entry] of this.pending) {
      if (entry.holder.host !== busiest) continue;
      this.release(socket);
      socket.destroy();
      return true;
    }
    return false;
  }

  /** The connection became a WebSocket (or closed): it no longer counts. */
  release(socket: Socket): void {
    const entry = this.pending.get(socket);
    if (entry === undefined) return;
    this.pending.delete(socket);
    clearTimeout(entry.timer);
    this.pendingByHost.give(entry.holder);
  }

  /** The server is closing: connections still upgrading are dropped. */
  destroyAll(): void {
    for (const socket of [...this.pending.keys()]) socket.destroy();
  }
}
