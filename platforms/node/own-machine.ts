import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { inspectHost } from '../../src/transport/ip.js';
import type { OwnMachine } from '../../src/webrtc/remote-candidates.js';

const LINUX_PORT_RANGE = '/proc/sys/net/ipv4/ip_local_port_range';

/**
 * This machine's addresses and the ports Linux gives sockets bound to port 0, for WebRtcTransport's
 * `ownMachine`; undefined where the range cannot be read (other systems: their defaults can be changed
 * and guessing too narrow a range would drop a same-machine peer's candidates).
 */
export function ownMachine(readRange: () => string = () => readFileSync(LINUX_PORT_RANGE, 'utf8')): OwnMachine | undefined {
  let text: string;
  try {
    text = readRange();
  } catch {
    return undefined;
  }
  const match = /^\s*(\d{1,5})\s+(\d{1,5})\s*$/.exec(text);
  if (match === null) return undefined;
  const [min, max] = [Number(match[1]), Number(match[2])];
  if (!(min >= 1 && min <= max && max <= 65_535)) return undefined;
  return {
    // Read at each use: addresses come and go (DHCP, a VPN), and a candidate is read rarely.
    addresses: () => new Set(Object.values(networkInterfaces()).flatMap((entries) => (entries ?? []).map((entry) => inspectHost(entry.address).canonical.toLowerCase()))),
    ephemeralPorts: { min, max },
  };
}
