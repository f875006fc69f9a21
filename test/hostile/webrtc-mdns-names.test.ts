/**
 * A remote's ICE candidate named by an mDNS `.local` name is resolved by our ICE agent; in Node that is
 * the system's resolver, where anyone on the LAN may answer for the name (nss-mdns) or a hosts file
 * names it: the name may be 127.0.0.1, past the rule that keeps a remote off our loopback services.
 * Run in network and mount namespaces this test makes (`unshare -rnm`), with a hosts file naming
 * `evil.local` 127.0.0.1, real RTCPeerConnections (@roamhq/wrtc) and a real relay over TCP.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(path.join(tmpdir(), 'meshlink-mdns-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Datagrams = { loopback: number; control: number };

/** Runs the fixture in fresh namespaces with `allowMdnsCandidates` as `choice` says; what reached each service. */
async function datagramsWith(choice: 'default' | 'true'): Promise<Datagrams> {
  const hosts = path.join(dir, 'hosts');
  writeFileSync(hosts, '127.0.0.1 localhost evil.local\n');
  const script = [
    `mount --bind "${hosts}" /etc/hosts`,
    'ip link set lo up',
    'ip link add v0 type veth peer name v1',
    'ip addr add 10.9.0.1/24 dev v0',
    'ip link set v0 up',
    'ip link set v1 up',
    `exec "${process.execPath}" --import tsx test/hostile/fixtures/webrtc-mdns-name.ts ${choice}`,
  ].join(' && ');
  const out = await new Promise<string>((resolve, reject) => {
    execFile('unshare', ['-rnm', 'sh', '-c', script], { timeout: 50_000, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) reject(Object.assign(error, { stdout, stderr }));
      else resolve(stdout);
    });
  });
  return JSON.parse(out.trim().split('\n').pop() ?? '{}') as Datagrams;
}

describe('a WebRTC remote naming an ICE candidate by a .local name that resolves to 127.0.0.1', () => {
  it('does not make a Node node contact its loopback services: Node drops .local candidates by default', async () => {
    const result = await datagramsWith('default');
    // Before: 41 datagrams at the loopback service in 4 s, as with the opt-in below.
    expect(result.loopback).toBe(0);
    expect(result.control, 'the IP candidate beside it is checked').toBeGreaterThan(0);
  }, 60_000);

  it('with allowMdnsCandidates, the name is resolved and checked: what the option lets in', async () => {
    const result = await datagramsWith('true');
    expect(result.loopback).toBeGreaterThan(0);
  }, 60_000);
});
