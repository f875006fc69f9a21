/**
 * A UPnP gateway refusing every mapping (718 ConflictInMappingEntry to every lookup and add). One map()
 * tries 8 external ports, a lookup and an add each: 16 SOAP calls. maxGatewayRequestsPerMinute counted
 * map() calls, so such a gateway got ~17 calls per token, ~510 a minute under a cap of 30. The cap now
 * counts SOAP calls. The gateway is scripted on loopback HTTP (test/upnp/helpers/fake-gateway.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { GatewayBudgetError, NatManager, type NatWarning } from '../../src/nat/index.js';
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

async function refusingGateway(): Promise<{ gateway: FakeGateway; location: string }> {
  const gateway = new FakeGateway(1);
  const refuse = (): { fault: number; description: string } => ({ fault: 718, description: 'ConflictInMappingEntry' });
  gateway.override = { AddPortMapping: refuse, GetSpecificPortMappingEntry: refuse };
  const location = await gateway.listen();
  cleanups.push(() => gateway.close());
  return { gateway, location };
}

describe('a UPnP gateway answering 718 to every mapping', () => {
  it(`gets at most maxGatewayRequestsPerMinute (${CAP_PER_MINUTE}) SOAP calls a minute, however many ports a map() tries`, async () => {
    const { gateway, location } = await refusingGateway();
    const mapper = new UpnpPortMapper({ location, requestTimeoutMs: 2000 });
    // retried every 20 ms: only the cap stands between the gateway and a flood
    const manager = new NatManager({
      mapper,
      nodeId: NODE_ID,
      ports: [{ transport: 'tcp', port: 26656 }],
      retryIntervalMs: 20,
      maxGatewayRequestsPerMinute: CAP_PER_MINUTE,
    });
    cleanups.push(() => mapper.close(), () => manager.stop());
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
});
