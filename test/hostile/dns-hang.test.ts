/**
 * Names a peer hands us (PEX addresses, a NodeInfo's listen addresses) are looked up when dialled. With
 * the system's lookup (getaddrinfo, in libuv's thread pool, at most two DNS lookups at once), two names
 * under a domain whose name servers never answer held both for the resolver's timeout (10 s here), and
 * every other lookup of the process waited behind them: the app's own names, a seed's. The guarded
 * lookup asks DNS on the event loop now (c-ares), each query bounded. Run in network and mount
 * namespaces this test makes (`unshare -rnm`), with a DNS server on their loopback that never answers
 * (or answers once). Last, a name with many addresses: what one dial of it may try, and what the error
 * of a dial it is refused names.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { namespaceSupport } from '../helpers/namespaces.js';

const support = namespaceSupport('-rnm');
if (!support.ok) console.warn(`\n!!! SKIPPING test/hostile/dns-hang.test.ts: ${support.why}; it needs user, network and mount namespaces.\n`);

const dir = mkdtempSync(path.join(tmpdir(), 'meshlink-dns-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs a fixture (`fixtureAndArgs`) in fresh namespaces with `resolvConf` as /etc/resolv.conf; its JSON line. */
async function runFixture<T>(fixtureAndArgs: string, resolvConf: string): Promise<T> {
  const resolvConfPath = path.join(dir, `resolv-${fixtureAndArgs.replace(/\W+/g, '-')}.conf`);
  writeFileSync(resolvConfPath, resolvConf);
  const script = `ip link set lo up && mount --bind "${resolvConfPath}" /etc/resolv.conf && exec "${process.execPath}" --import tsx test/hostile/fixtures/${fixtureAndArgs}`;
  const out = await new Promise<string>((resolve, reject) => {
    execFile('unshare', ['-rnm', 'sh', '-c', script], { timeout: 50_000, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) reject(Object.assign(error, { stdout, stderr }));
      else resolve(stdout);
    });
  });
  return JSON.parse(out.trim().split('\n').pop() ?? '{}') as T;
}
type Order = { order: string[]; queries: number; unfinished?: boolean };

describe.skipIf(!support.ok)('names whose DNS servers never answer', () => {
  it('two such names being dialled do not hold up the process\'s other lookups', async () => {
    const result = await runFixture<Order>('dns-hang.ts 2 silent', 'nameserver 127.0.0.1\n');
    expect(result.unfinished).toBeUndefined();
    expect(result.queries, 'the hung names were asked of the DNS server').toBeGreaterThan(0);
    // Before: ["hung:EAI_AGAIN", "localhost:ok", "hung:EAI_AGAIN"], localhost answered only once the
    // first hung lookup gave up (10 s).
    expect(result.order[0]).toBe('localhost:ok');
    expect(result.order.slice(1)).toEqual(['hung:ETIMEOUT', 'hung:ETIMEOUT']);
  }, 60_000);

  it('nor do two whose servers say "no address" once, then never answer (the system\'s lookup asked next)', async () => {
    // The system's lookup gives up after 3 s here (glibc's default: 10 s); what is asserted is the order.
    const result = await runFixture<Order>('dns-hang.ts 2 nodata-once', 'nameserver 127.0.0.1\noptions timeout:3 attempts:1\n');
    expect(result.unfinished).toBeUndefined();
    // Each name asked of DNS (A and AAAA), then of the system's lookup, which the server never answers.
    expect(result.queries).toBeGreaterThan(4);
    // Before: ["hung:EAI_AGAIN", "localhost:ok", "hung:EAI_AGAIN"]: the guarded lookup asked the system's
    // lookup of every name DNS had no address for, the two held both of libuv's DNS lookup slots, and
    // localhost waited until the first gave up.
    expect(result.order[0]).toBe('localhost:ok');
    expect(result.order.slice(1)).toEqual(['hung:EAI_AGAIN', 'hung:EAI_AGAIN']);
  }, 60_000);

  it('nor when a node with PEX and allowLocal on dials them', async () => {
    const result = await runFixture<Order>('dns-hang.ts 2 silent node', 'nameserver 127.0.0.1\noptions timeout:3 attempts:1\n');
    expect(result.unfinished).toBeUndefined();
    expect(result.queries).toBeGreaterThan(0);
    // Before: ["hung:EAI_AGAIN", "localhost:ok", "hung:EAI_AGAIN"]: with allowLocal the dials used the
    // system's lookup, both names held libuv's two DNS lookup slots for its timeout (3 s here, 10 s with
    // glibc's defaults) and localhost waited for the first. `local-name`: localhost as the node's dials
    // look it up, from the hosts file although DNS never answers (asked of DNS first, it timed out).
    expect(result.order.slice(0, 2).sort()).toEqual(['local-name:ok', 'localhost:ok']);
    expect(result.order.slice(2)).toEqual(['hung:ETIMEOUT', 'hung:ETIMEOUT']);
  }, 60_000);
});

describe.skipIf(!support.ok)('a name a peer hands us', () => {
  it('with 64 public addresses has one dial try two, not 64 hosts of the peer\'s choosing', async () => {
    // Nothing is at 1.2.3.x in the namespace: each attempt fails at once, and Node tries the next.
    const result = await runFixture<{ tried: number | string }>('dns-many.ts 64', 'nameserver 127.0.0.1\n');
    // Before: 64 (Node tries every address a lookup gives; 250 ms each where none answers).
    expect(result.tried).toBe(2);
  }, 60_000);

  it('with 4,000 private addresses (allowLocal off) fails the dial with an error naming four of them, not all', async () => {
    const result = await runFixture<{ messageLength: number; message: string }>('dns-many.ts 4000 local', 'nameserver 127.0.0.1\n');
    expect(result.message).toContain('resolves to 10.200.0.0, 10.200.0.1, 10.200.0.2, 10.200.0.3 and 3996 more');
    // Before: 55,791 characters, every address of the answer, in each dial's error (dial:failed, logs).
    expect(result.messageLength).toBeLessThan(300);
  }, 60_000);
});
