/**
 * UDP sockets standing for the victims of STUN checks a WebRTC remote aims at them: each counts what
 * reaches it by the STUN USERNAME it carries (`<remote ufrag>:<local ufrag>`, one per RTCPeerConnection
 * sending it), so a test tells how many of our negotiations checked a host:port, whatever their pace.
 */
import { createSocket, type Socket } from 'node:dgram';

export interface StunVictims {
  readonly ports: number[];
  /** Sockets that any check reached. */
  reached(): number;
  /** RTCPeerConnections (USERNAMEs) whose checks reached any of them. */
  senders(): number;
  close(): void;
}

/** `count` sockets on `host`, each on a port of `pickPort` (tried again while taken: up to 20 times) or one the OS picks. */
export async function stunVictims(host: string, count: number, pickPort: () => number = () => 0): Promise<StunVictims> {
  const usernamesByPort = new Map<number, Set<string>>();
  const closers: (() => void)[] = [];
  for (let i = 0; i < count; i++) {
    const socket = await boundSocket(host, pickPort);
    const usernames = new Set<string>();
    usernamesByPort.set(socket.address().port, usernames);
    socket.on('message', (datagram) => usernames.add(stunUsername(datagram) ?? 'none'));
    closers.push(() => socket.close());
  }
  const all = (): Set<string>[] => [...usernamesByPort.values()];
  return {
    ports: [...usernamesByPort.keys()],
    reached: () => all().filter((usernames) => usernames.size > 0).length,
    senders: () => new Set(all().flatMap((usernames) => [...usernames])).size,
    close: () => closers.forEach((close) => close()),
  };
}

async function boundSocket(host: string, pickPort: () => number): Promise<Socket> {
  for (let attempt = 1; ; attempt++) {
    const socket = createSocket('udp4');
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(pickPort(), host, () => resolve());
      });
      return socket;
    } catch (error) {
      socket.close();
      if (attempt === 20) throw error;
    }
  }
}

/** The USERNAME attribute (0x0006) of a STUN message (RFC 5389: a 20-byte header, then TLVs padded to 4). */
function stunUsername(datagram: Buffer): string | undefined {
  for (let at = 20; at + 4 <= datagram.length; ) {
    const type = datagram.readUInt16BE(at);
    const length = datagram.readUInt16BE(at + 2);
    if (type === 0x0006) return datagram.subarray(at + 4, at + 4 + length).toString();
    at += 4 + Math.ceil(length / 4) * 4;
  }
  return undefined;
}
