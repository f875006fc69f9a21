/**
 * Numbers a NAT-PMP gateway chooses. The lease it grants is a u32 of seconds, so up to 136 years: a
 * NatManager renews at half the lease, and a delay past what a timer can hold (2^31 - 1 ms, 24.8 days)
 * made its timer fire every millisecond, each time printing a TimeoutOverflowWarning. The external
 * port is a u16: 0 was advertised as it came. The gateway is a real UDP socket on 127.77.x.1:5351
 * speaking RFC 6886 by hand.
 */
import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { NatManager } from '../../src/nat/index.js';
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
 * `externalPort` (default: the port suggested).
 */
async function fakeGateway(lifetimeSeconds: number, externalPort?: number): Promise<{ requests: number[] }> {
  const requests: number[] = [];
  const socket = dgram.createSocket('udp4');
  socket.on('message', (message, from) => {
    const opcode = message[1]!;
    requests.push(opcode);
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
  return { requests };
}

function startManager(): NatManager {
  const mapper = createNatPmpPortMapper({ gateway: GATEWAY });
  const manager = new NatManager({ mapper, nodeId: NODE_ID, ports: [{ transport: 'tcp', port: 26656 }] });
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
