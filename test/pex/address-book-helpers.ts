/** Shared fixtures for the address book tests: node ids, public addresses, a seeded random and a clock. */

export function nodeId(n: number): string {
  return n.toString(16).padStart(40, '0');
}

/** A routable IPv4 host; hosts with the same `group` share a /16. First octets 20..99 avoid every special range. */
export function publicHost(group: number, host = 1): string {
  return `${20 + (group % 80)}.${Math.floor(group / 80) % 256}.${Math.floor(host / 256) % 256}.${(host % 254) + 1}`;
}

export function tcp(id: number, host: string, port = 26656): string {
  return `tcp://${nodeId(id)}@${host}:${port}`;
}

/** The simulator's seeded PRNG (mulberry32), so tests are repeatable. */
export { seededRandom } from '../../bench/seeded-random.js';

export class FakeClock {
  constructor(public ms = 1_700_000_000_000) {}
  readonly now = (): number => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
}

export const FIXED_KEY = new Uint8Array(32).fill(7);
