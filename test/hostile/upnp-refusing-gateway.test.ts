/**
 * A UPnP gateway refusing every mapping (718 ConflictInMappingEntry to every lookup and add). One map()
 * tries 8 external ports, a lookup and an add each: 16 SOAP calls. maxGatewayRequestsPerMinute counted
 * map() calls, so such a gateway got ~17 calls per token, ~510 a minute under a cap of 30. The cap now
 * counts SOAP calls. The gateway is scripted on loopback HTTP (test/upnp/helpers/fake-gateway.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { GatewayBudgetError, NatManager, type NatManagerOptions, type NatWarning } from '../../src/nat/index.js';
import { UpnpPortMapper } from '../../platforms/node/upnp/index.js';
import { FakeGateway } from '../upnp/helpers/fake-gateway.js';
import { waitFor } from '../helpers/wait.js';
import { sleep } from './harness.js';

const NODE_ID = 'ab'.repeat(20);
const CAP_PER_MINUTE = 30;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const refuse = (): { fault: number; description: string } => ({ fault: 718, description: 'ConflictInMappingEntry' });

/** A scripted IGDv1 on loopback; refusing every mapping unless `refusing` is false (then it refuses once told to). */
async function refusingGateway(refusing = true): Promise<{ gateway: FakeGateway; location: string; refuseFromNow(): void }> {
  const gateway = new FakeGateway(1);
  const refuseFromNow = (): void => {
    gateway.override = { AddPortMapping: refuse, GetSpecificPortMappingEntry: refuse };
  };
  if (refusing) refuseFromNow();
  const location = await gateway.listen();
  cleanups.push(() => gateway.close());
  return { gateway, location, refuseFromNow };
}

/**
 * A NatManager for port 26656 through the UPnP gateway at `location`, a cap of CAP_PER_MINUTE, and failures
 * retried every 20 ms: only the cap stands between the gateway and a flood.
 */
function startManager(location: string, options: Partial<NatManagerOptions> = {}): NatManager {
  const mapper = new UpnpPortMapper({ location, requestTimeoutMs: 2000 });
  const manager = new NatManager({
    mapper,
    nodeId: NODE_ID,
    ports: [{ transport: 'tcp', port: 26656 }],
    retryIntervalMs: 20,
    maxGatewayRequestsPerMinute: CAP_PER_MINUTE,
    ...options,
  });
  cleanups.push(() => mapper.close(), () => manager.stop());
  return manager;
}

describe('a UPnP gateway answering 718 to every mapping', () => {
  it(`gets at most maxGatewayRequestsPerMinute (${CAP_PER_MINUTE}) SOAP calls a minute, however many ports a map() tries`, async () => {
    const { gateway, location } = await refusingGateway();
    const manager = startManager(location);
    const warnings: NatWarning[] = [];
    manager.on('warning', (w) => warnings.push(w));
    const started = Date.now();
    await manager.start();
    await sleep(1500);
    const calls = gateway.calls.length;
    const elapsedMs = Date.now() - started;
    // the burst of 30, plus what refills (one every 2 s) while we watched
    const allowed = CAP_PER_MINUTE + Math.ceil((elapsedMs * CAP_PER_MINUTE) / 60_000);
    console.log(`SOAP calls in ${elapsedMs} ms: ${calls} (allowed ${allowed})`);
    expect(calls).toBeLessThanOrEqual(allowed);
    // the refusals were reported as such, then the cut as rate-limited, retried when the allowance is back
    expect(warnings.some((w) => w.reason === 'refused' && 'upnpCode' in w && w.upnpCode === 718)).toBe(true);
    await waitFor(() => warnings.some((w) => w.reason === 'rate-limited'), 2000, 'a rate-limited warning');
    const limited = warnings.find((w) => w.reason === 'rate-limited')!;
    expect('error' in limited && limited.error).toBeInstanceOf(GatewayBudgetError);
    expect(limited.retryInMs).toBeGreaterThan(10_000);
    expect(manager.advertisedAddresses()).toEqual([]);
  });

  it('a renewal refused at every step (a lookup and an add for the port held, then for 8 others) is held to the same cap', async () => {
    const { gateway, location, refuseFromNow } = await refusingGateway(false);
    // a 2 s lease renewed after 0.2 s, failed renewals retried each second until it lapses
    const manager = startManager(location, { leaseSeconds: 2, minRenewIntervalMs: 200 });
    const started = Date.now();
    expect(await manager.start()).toHaveLength(1);
    refuseFromNow();
    await sleep(3000);
    const calls = gateway.calls.length;
    const allowed = CAP_PER_MINUTE + Math.ceil(((Date.now() - started) * CAP_PER_MINUTE) / 60_000);
    console.log(`SOAP calls in ${Date.now() - started} ms, a grant then refused renewals: ${calls} (allowed ${allowed})`);
    expect(calls).toBeLessThanOrEqual(allowed);
  });
});

describe('a UPnP gateway answering every SOAP call with an HTTP error (no UPnP answer)', () => {
  it('gets at most maxGatewayRequestsPerMinute HTTP requests a minute, the description fetches a failed call brings included', async () => {
    const gateway = new FakeGateway(1);
    const fail = (): { status: number; body: string } => ({ status: 500, body: 'Internal Server Error' });
    gateway.override = { GetExternalIPAddress: fail, AddPortMapping: fail, GetSpecificPortMappingEntry: fail };
    const location = await gateway.listen();
    cleanups.push(() => gateway.close());
    const manager = startManager(location);
    const started = Date.now();
    await manager.start();
    await sleep(1500);
    const requests = gateway.calls.length + gateway.descriptionFetches;
    const elapsedMs = Date.now() - started;
    const allowed = CAP_PER_MINUTE + Math.ceil((elapsedMs * CAP_PER_MINUTE) / 60_000);
    console.log(`HTTP requests in ${elapsedMs} ms: ${gateway.calls.length} SOAP calls, ${gateway.descriptionFetches} description fetches (allowed ${allowed})`);
    expect(requests).toBeLessThanOrEqual(allowed);
  });
});
