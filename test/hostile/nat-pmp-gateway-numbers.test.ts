/**
 * Numbers a NAT-PMP gateway chooses. The lease it grants is a u32 of seconds, so up to 136 years: a
 * NatManager renews at half the lease, and a delay past what a timer can hold (2^31 - 1 ms, 24.8 days)
 * made its timer fire every millisecond, each time printing a TimeoutOverflowWarning. The external
 * port is a u16: 0 was advertised as it came. A lease of 1 s had us renew every 0.5 s for as long as we
 * ran: renewals now wait a floor, and requests have a ceiling a minute. The gateway is a real UDP socket on 127.77.x.1:5351
 * speaking RFC 6886 by hand.
 */
import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { NatManager, type NatManagerOptions } from '../../src/nat/index.js';
import { createNatPmpPortMapper } from '../../platforms/node/nat-pmp/index.js';
import { sleep } from './harness.js';
import { waitFor } from '../helpers/wait.js';

/** NAT-PMP has a fixed port, so concurrent runs (other worktrees) each take a loopback address of their own. */
const GATEWAY = `127.77.${(process.pid % 250) + 1}.1`;
const NAT_PMP_PORT = 5351;
const NODE_ID = 'cd'.repeat(20);
const EXTERNAL_IP = [8, 8, 4, 7];
const LONGEST_LIFETIME_SECONDS = 0xffff_ffff;

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/**
 * Answers external-address and mapping requests, granting every mapping `lifetimeSeconds` on
 * `externalPort` (default: the port suggested); answers nothing while `mute`.
 */
async function fakeGateway(lifetimeSeconds: number, externalPort?: number): Promise<{ requests: number[]; mute: boolean }> {
  const gateway = { requests: [] as number[], mute: false };
  const { requests } = gateway;
  const socket = dgram.createSocket('udp4');
  socket.on('message', (message, from) => {
    const opcode = message[1]!;
    requests.push(opcode);
    if (gateway.mute) return;
    const answer = Buffer.alloc(opcode === 0 ? 12 : 16);
    answer[1] = 128 + opcode; // result code 0 (success) and seconds since epoch 0 stay zero
    if (opcode === 0) answer.set(EXTERNAL_IP, 8);
    else {
      answer.writeUInt16BE(message.readUInt16BE(4), 8); // internal port
      answer.writeUInt16BE(externalPort ?? message.readUInt16BE(6), 10);
      answer.writeUInt32BE(lifetimeSeconds, 12);
    }
    socket.send(answer, from.port, from.address);
  });
  await new Promise<void>((resolve) => socket.bind(NAT_PMP_PORT, GATEWAY, resolve));
  cleanups.push(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  return gateway;
}

function startManager(options: Partial<NatManagerOptions> = {}): NatManager {
  const mapper = createNatPmpPortMapper({ gateway: GATEWAY });
  const manager = new NatManager({ mapper, nodeId: NODE_ID, ports: [{ transport: 'tcp', port: 26656 }], ...options });
  cleanups.push(() => mapper.close(), () => manager.stop());
  return manager;
}

describe('a NAT-PMP gateway granting the longest lease there is', () => {
  it('the mapping is kept and renewal waits: no timer spinning, no flood of overflow warnings', async () => {
    const gateway = await fakeGateway(LONGEST_LIFETIME_SECONDS);
    const overflows: Error[] = [];
    const onWarning = (warning: Error): void => void (warning.name === 'TimeoutOverflowWarning' && overflows.push(warning));
    process.on('warning', onWarning);
    cleanups.push(() => void process.off('warning', onWarning));
    const manager = startManager();
    const mapped: unknown[] = [];
    manager.on('mapped', (detail) => void mapped.push(detail));
    await manager.start();
    await waitFor(() => mapped.length === 1, 5000, 'the port to be mapped');
    const requestsWhenMapped = gateway.requests.length;
    await sleep(500);
    // Before: ~1 cycle and one warning per millisecond from here on, for as long as the mapping lived.
    expect(overflows.length, 'TimeoutOverflowWarnings').toBe(0);
    expect(gateway.requests.length, 'requests to the gateway after mapping').toBe(requestsWhenMapped);
    expect(mapped).toHaveLength(1);
    expect(mapped[0]).toMatchObject({ mapping: { externalPort: 26656, ttlSeconds: LONGEST_LIFETIME_SECONDS } });
  });
});

describe('a NAT-PMP gateway granting external port 0', () => {
  it('is a failed mapping (a warning, retried later), never an advertised address with port 0', async () => {
    await fakeGateway(3600, 0);
    const manager = startManager();
    const warnings: Array<{ reason: string; message: string }> = [];
    manager.on('warning', (detail) => void warnings.push(detail));
    await manager.start();
    await waitFor(() => warnings.length > 0, 5000, 'a warning');
    expect(warnings[0]).toMatchObject({ reason: 'gateway-error', message: expect.stringContaining('external port 0') });
    expect(manager.advertisedAddresses(), 'addresses advertised').toEqual([]);
  });
});

describe('a NAT-PMP gateway granting a 1 s lease', () => {
  it('is not asked again every half second: the renewal waits its floor (30 s by default), and the lapsed mapping is withdrawn', async () => {
    const gateway = await fakeGateway(1);
    const manager = startManager();
    const unmapped: Array<{ reason: string }> = [];
    manager.on('unmapped', (detail) => void unmapped.push(detail));
    expect(await manager.start()).toEqual([`tcp://${NODE_ID}@8.8.4.7:26656`]);
    const requestsWhenMapped = gateway.requests.length; // the external address and the mapping
    await sleep(2600);
    // Before: a renewal (2 requests) every 0.5 s, ~10 in these 2.6 s, 240 a minute for as long as we ran.
    expect(gateway.requests.length - requestsWhenMapped, 'requests to the gateway after mapping').toBe(0);
    // The gateway said 1 s: past it the address is not advertised as if it were still open.
    expect(unmapped).toEqual([expect.objectContaining({ reason: 'expired' })]);
    expect(manager.advertisedAddresses(), 'addresses advertised after the lease ran out').toEqual([]);
  });

  it('a lease shorter than the floor is asked for again at the floor\'s pace, its address back each time', async () => {
    const gateway = await fakeGateway(1);
    const manager = startManager({ minRenewIntervalMs: 1500 });
    const mapped: unknown[] = [];
    const unmapped: unknown[] = [];
    manager.on('mapped', (detail) => void mapped.push(detail));
    manager.on('unmapped', (detail) => void unmapped.push(detail));
    await manager.start();
    // Mapped at 0, 1.5 and 3 s (each lapsing after 1 s); before: renewed every 0.5 s, 7 grants by 3.3 s.
    await sleep(3300);
    expect(mapped.length, 'grants in 3.3 s').toBe(3);
    expect(unmapped.length, 'lapses in 3.3 s').toBe(2);
    expect(gateway.requests.length, 'requests in 3.3 s').toBe(6);
    expect(manager.advertisedAddresses()).toEqual([`tcp://${NODE_ID}@8.8.4.7:26656`]);
  });

  it('with the floor set low, requests to the gateway stop at maxGatewayRequestsPerMinute', async () => {
    const gateway = await fakeGateway(1);
    const manager = startManager({ minRenewIntervalMs: 1, maxGatewayRequestsPerMinute: 6 });
    await manager.start();
    await sleep(2600);
    // 6 requests: the first mapping and two renewals (each an external address and a mapping), then
    // nothing until the bucket refills (one request each 10 s). Before: ~12 in these 2.6 s.
    expect(gateway.requests.length, 'requests in 2.6 s').toBe(6);
  });

  it('a gateway that never answers gets no more datagrams than maxGatewayRequestsPerMinute, retransmissions included', async () => {
    const silent = await fakeGateway(1);
    silent.mute = true;
    const manager = startManager({ retryIntervalMs: 20, maxGatewayRequestsPerMinute: 3 });
    await manager.start();
    await sleep(2600);
    // An external address request is retransmitted at 250, 750 and 1750 ms: 4 datagrams. Counted once per
    // request, 3 a minute let 10 through in these 2.6 s; each datagram is counted now, and nothing refills
    // in 2.6 s (one each 20 s).
    expect(silent.requests.length, 'datagrams in 2.6 s').toBe(3);
  });
});
