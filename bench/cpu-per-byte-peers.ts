/**
 * The two sides of bench/cpu-per-byte.ts: the victim process (bench/cpu-per-byte-victim.ts, driven over
 * IPC) and attackers, Switches whose session keys the bench uses to seal frames of its own choosing.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { generateNodeKey } from '../src/crypto/keys.js';
import type { ChannelDescriptor } from '../src/conn/channel-descriptor.js';
import type { SecureLinkSession } from '../src/conn/secure-link-session.js';
import type { FrameEncoder } from '../src/conn/secure-link-frame.js';
import type { Peer } from '../src/switch/peer.js';
import { Switch } from '../src/switch/switch.js';
import type { Link } from '../src/transport/link.js';
import { PacketKind } from '../src/wire/constants.js';
import { nodeChaCha20Poly1305 } from '../platforms/node/aead.js';
import { tcpTransport } from '../platforms/node/tcp.js';
import { wsTransport } from '../platforms/node/ws-transport.js';
import { childExecArgv } from './receiver-client.js';
import { VictimChannel, type FromVictim, type ToVictim, type VictimCounts } from './cpu-per-byte-victim.js';

export const KIB = 1024;
export const FRAME_MAX = 64 * KIB;
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// ─── the victim process ──────────────────────────────────────────────────────────────────────

export class VictimProcess {
  private readonly child: ChildProcess;
  private nextId = 1;
  private readonly waiting = new Map<number, (message: FromVictim) => void>();
  readonly ready: Promise<{ nodeId: string; tcp: string; ws: string }>;

  /** `recvRateBytesPerSec`: the victim's connections' receive limit (0: unlimited). */
  constructor(recvRateBytesPerSec = 0) {
    const profile = process.env['CPU_PER_BYTE_PROFILE_DIR'];
    this.child = fork(new URL('./cpu-per-byte-victim.ts', import.meta.url).pathname, [String(recvRateBytesPerSec)], { execArgv: childExecArgv(profile === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profile}`]), stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.ready = new Promise((resolve) => this.waiting.set(0, (message) => resolve((message as { ready: { nodeId: string; tcp: string; ws: string } }).ready)));
    this.child.on('message', (message: FromVictim) => {
      const waiter = this.waiting.get(message.id);
      this.waiting.delete(message.id);
      waiter?.(message);
    });
  }

  private async call(command: Omit<ToVictim, 'id'> & { cmd: ToVictim['cmd'] }): Promise<{ cpuMicros: number; systemMicros?: number; counts: VictimCounts }> {
    const id = this.nextId++;
    const reply = await new Promise<FromVictim>((resolve) => {
      this.waiting.set(id, resolve);
      this.child.send({ ...command, id });
    });
    if ('error' in reply) throw new Error(`victim: ${reply.error}`);
    return reply as { cpuMicros: number; systemMicros?: number; counts: VictimCounts };
  }

  sample(): Promise<{ cpuMicros: number; systemMicros?: number; counts: VictimCounts }> {
    return this.call({ cmd: 'cpu' });
  }

  dial(address: string): Promise<unknown> {
    return this.call({ cmd: 'dial', address } as ToVictim);
  }

  stop(): Promise<unknown> {
    return this.call({ cmd: 'stop' });
  }
}

// ─── the attacker ────────────────────────────────────────────────────────────────────────────

const ATTACKER_CHANNELS: ChannelDescriptor[] = [0x00, 0x01, VictimChannel.Push, VictimChannel.Pull, VictimChannel.Async, VictimChannel.Marker].map((id) => ({
  id,
  priority: 1,
  sendQueueCapacity: 4096,
  recvMessageCapacity: 8 * 1024 * 1024,
}));

export interface Attacker {
  sw: Switch;
  peer: Peer;
  /** The link under the SecureLink: sealed frames written here reach the victim as they are. */
  raw: Link;
  encoder: FrameEncoder;
  /** pexRequests from the victim not answered yet. */
  pexRequests: number;
  pexAnswers: number;
}

export async function attackerSwitch(listen: string[], onPex: (attacker: Attacker, message: Uint8Array) => void): Promise<{ sw: Switch; self: Partial<Attacker> }> {
  const self: Partial<Attacker> = { pexRequests: 0, pexAnswers: 0 };
  const sw = new Switch({ identity: generateNodeKey(), network: 'cpu-bench', transports: [tcpTransport(), wsTransport()], listen, aead: nodeChaCha20Poly1305 });
  sw.addAgent('attack', { channels: ATTACKER_CHANNELS, receive: (channelId, _peer, message) => (channelId === 0x00 ? onPex(self as Attacker, message) : undefined) });
  await sw.start();
  self.sw = sw;
  return { sw, self };
}

export function completeAttacker(self: Partial<Attacker>, peer: Peer): Attacker {
  const session = (peer.connection as unknown as { link: SecureLinkSession }).link;
  const inner = session as unknown as { link: Link; encoder: FrameEncoder };
  return Object.assign(self, { peer, raw: inner.link, encoder: inner.encoder }) as Attacker;
}

export async function dialVictim(address: string): Promise<Attacker> {
  const { sw, self } = await attackerSwitch([], (attacker) => void attacker.pexAnswers++);
  return completeAttacker(self, await sw.dial(address));
}

/**
 * Seals each plaintext into a frame of its own and writes them, within the link's backpressure: each
 * frame in a write of its own, or (`coalesce`) frames packed into writes of up to 64 KiB, so that every
 * read of the victim holds thousands of them.
 */
export async function writeFrames(attacker: Attacker, plaintexts: Iterable<Uint8Array>, coalesce = false, deadline = Infinity): Promise<number> {
  let wire = 0;
  const pending: Uint8Array[] = [];
  let pendingBytes = 0;
  const flush = async (): Promise<void> => {
    if (pending.length === 0) return;
    const out = new Uint8Array(pendingBytes);
    let offset = 0;
    for (const frame of pending) {
      out.set(frame, offset);
      offset += frame.length;
    }
    pending.length = 0;
    pendingBytes = 0;
    attacker.raw.write(out);
    while (attacker.raw.bufferedBytes > 512 * KIB && performance.now() <= deadline) await sleep(1);
  };
  for (const plaintext of plaintexts) {
    if (performance.now() > deadline || attacker.raw.closed) break;
    const frame = attacker.encoder.encode(plaintext);
    wire += frame.length;
    if (!coalesce) {
      attacker.raw.write(frame.slice());
      while (attacker.raw.bufferedBytes > 512 * KIB && performance.now() <= deadline) await sleep(1);
      continue;
    }
    if (pendingBytes + frame.length > FRAME_MAX) await flush();
    pending.push(frame);
    pendingBytes += frame.length;
  }
  await flush();
  return wire;
}

export function* repeat<T>(value: T, times = Infinity): Iterable<T> {
  for (let i = 0; i < times; i++) yield value;
}

/** A plaintext of back-to-back packets: `count` copies of `packet`. */
export function packed(packet: Uint8Array, count: number): Uint8Array {
  const out = new Uint8Array(packet.length * count);
  for (let i = 0; i < count; i++) out.set(packet, i * packet.length);
  return out;
}

export const msgPacket = (channelId: number, payload: Uint8Array, last = true): Uint8Array =>
  new Uint8Array([last ? PacketKind.MsgEnd : PacketKind.Msg, channelId, payload.length >>> 8, payload.length & 0xff, ...payload]);

/** Sends honest messages through the attacker's own MConnection (what a meshlink sender writes). */
export async function sendHonest(attacker: Attacker, channelId: number, size: number, count: number, deadline = Infinity): Promise<number> {
  const message = randomBytes(size);
  let sent = 0;
  for (; sent < count && performance.now() <= deadline; sent++) {
    const timeoutMs = deadline === Infinity ? 30_000 : Math.max(1, deadline - performance.now());
    if (!(await attacker.peer.send(channelId, message, { timeoutMs }))) {
      if (deadline === Infinity) throw new Error('honest send refused');
      break;
    }
  }
  return sent;
}
