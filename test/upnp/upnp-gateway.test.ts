/**
 * UPnP against a real gateway: miniupnpd (nftables backend) in network namespaces built by
 * test/upnp/lab.sh, presenting IGDv1 and IGDv2. The node side runs in the LAN namespace
 * (fixtures/lan-agent.ts), so SSDP never leaves the lab; the "outside peer" runs in the WAN namespace.
 *
 * Needs root and network namespaces; skipped (loudly) only when those are missing. Packages:
 *   apt-get install -y --no-install-recommends miniupnpd miniupnpd-nftables miniupnpc nftables curl
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAB, NamespaceProcess, echoFromWan, execInNamespace, labDown, labSupport, labUp, until, upnpcAdd, upnpcList, type JsonLine } from './helpers/lab.js';

const support = labSupport();
if (!support.ok) {
  console.warn(
    `\n${'!'.repeat(100)}\n!!! SKIPPING the UPnP gateway tests (test/upnp/upnp-gateway.test.ts): ${support.why}.\n` +
      `!!! They need root and network namespaces; CI runs them.\n${'!'.repeat(100)}\n`,
  );
}

const AGENT = 'test/upnp/fixtures/lan-agent.ts';
const LAN_NODE = 'test/upnp/fixtures/lan-node.ts';
const WAN_DIALER = 'test/upnp/fixtures/wan-dialer.ts';

function nodeId(): string {
  return randomBytes(20).toString('hex');
}

interface StartResult {
  addresses: string[];
  startMs: number;
}

function portOf(address: string): number {
  return Number(/:(\d+)$/.exec(address)?.[1]);
}

function warnings(agent: NamespaceProcess, from = 0): Array<Record<string, unknown>> {
  return agent.events('warning', from).map((line: JsonLine) => line['detail'] as Record<string, unknown>);
}

describe.skipIf(!support.ok)('UPnP port mapping against miniupnpd in network namespaces', () => {
  // Last resort if the worker dies between beforeAll and afterAll: never leave the lab behind.
  const onExit = (): void => labDown();
  beforeAll(() => {
    process.once('exit', onExit);
  });
  afterAll(() => {
    labDown();
    process.removeListener('exit', onExit);
  });

  for (const version of ['v1', 'v2'] as const) {
    const igd = version === 'v1' ? 1 : 2;

    describe(`an IGDv${igd} gateway`, () => {
      let agent: NamespaceProcess;

      beforeAll(async () => {
        labUp(version);
        agent = await NamespaceProcess.start(LAB.lan, AGENT);
      });

      afterAll(async () => {
        await agent?.close();
        labDown();
      });

      it(`is found by SSDP, speaks WANIPConnection:${igd} and reports its external address`, async () => {
        const gateway = await agent.call<Record<string, unknown>>('gateway');
        expect(gateway).toMatchObject({
          igdVersion: igd,
          serviceType: `urn:schemas-upnp-org:service:WANIPConnection:${igd}`,
          location: LAB.location,
          localAddress: LAB.nodeLanIp,
        });
        expect(await agent.call('externalIp')).toBe(LAB.gatewayWanIp);
      });

      it('maps the listening port; a peer outside reaches the node through the advertised address; stop() removes only its own mapping', async () => {
        const port = 30_001;
        await agent.call('echoServer', { port });
        await upnpcAdd(LAB.otherLanIp, 7000, 30_901, 600, 'someone-else');
        const id = nodeId();

        const started = await agent.call<StartResult>('managerStart', { nodeId: id, ports: [{ transport: 'tcp', port }] });
        expect(started.addresses).toEqual([`tcp://${id}@${LAB.gatewayWanIp}:${port}`]);

        const table = await upnpcList();
        const ours = table.find((entry) => entry.externalPort === port);
        expect(ours).toMatchObject({ protocol: 'TCP', internalHost: LAB.nodeLanIp, internalPort: port, description: 'meshlink' });
        expect(ours!.leaseSeconds).toBeGreaterThan(3500);
        expect(ours!.leaseSeconds).toBeLessThanOrEqual(3600);
        const listed = await agent.call<Array<Record<string, unknown>>>('list');
        expect(listed).toContainEqual(expect.objectContaining({ externalPort: port, internalHost: LAB.nodeLanIp, internalPort: port }));

        const echo = await echoFromWan(LAB.gatewayWanIp, port);
        expect(echo).toMatchObject({ ok: true });

        await agent.call('managerStop');
        const after = await upnpcList();
        expect(after.find((entry) => entry.externalPort === port)).toBeUndefined();
        expect(after).toContainEqual(expect.objectContaining({ externalPort: 30_901, internalHost: LAB.otherLanIp, description: 'someone-else' }));
        expect(agent.events('unmapped').map((line) => (line['detail'] as { reason: string }).reason)).toContain('stopped');
        // the mapping was the only way in
        expect((await echoFromWan(LAB.gatewayWanIp, port)).ok).toBe(false);
      });

      it('a meshlink node behind the gateway advertises its mapped address, and a WAN peer completes the handshake through it', async () => {
        const port = 30_100 + igd;
        const node = await NamespaceProcess.start(LAB.lan, LAN_NODE, { args: [String(port)] });
        try {
          const nodeId = (node.lines.find((l) => l['ready'] === true)!['nodeId']) as string;
          const advertised = await node.waitFor((l) => l['event'] === 'addresses' && (l['addresses'] as string[]).length > 0, 15_000, 'addresses');
          const external = `tcp://${nodeId}@${LAB.gatewayWanIp}:${port}`;
          expect(advertised['addresses']).toEqual([external]);
          const outcome = JSON.parse(await execInNamespace(LAB.wan, process.execPath, ['--import', 'tsx', WAN_DIALER, external], 20_000)) as Record<string, unknown>;
          expect(outcome).toMatchObject({ connected: true, peerId: nodeId, echo: 'through the gateway' });
          // The external address reached the WAN peer in NodeInfo, so PEX can pass it on.
          expect(outcome['listenAddresses']).toContain(external);
          await node.waitFor((l) => l['event'] === 'peer' && l['direction'] === 'inbound', 5000, 'inbound peer');
        } finally {
          const closed = await node.close();
          expect(closed.killed).toBe(false);
        }
        expect((await upnpcList()).find((entry) => entry.externalPort === port)).toBeUndefined();
      });

      it('maps another external port when the wanted one is taken, and advertises the one granted', async () => {
        const port = 30_002;
        await agent.call('echoServer', { port });
        await upnpcAdd(LAB.otherLanIp, 7001, port, 600, 'someone-else');
        const id = nodeId();

        const started = await agent.call<StartResult>('managerStart', { nodeId: id, ports: [{ transport: 'tcp', port }] });
        expect(started.addresses).toHaveLength(1);
        const granted = portOf(started.addresses[0]!);
        expect(granted).not.toBe(port);
        expect(started.addresses[0]).toBe(`tcp://${id}@${LAB.gatewayWanIp}:${granted}`);

        const table = await upnpcList();
        expect(table).toContainEqual(expect.objectContaining({ externalPort: granted, internalHost: LAB.nodeLanIp, internalPort: port }));
        expect(table).toContainEqual(expect.objectContaining({ externalPort: port, internalHost: LAB.otherLanIp, internalPort: 7001 }));
        expect(await echoFromWan(LAB.gatewayWanIp, granted)).toMatchObject({ ok: true });

        await agent.call('managerStop');
        const after = await upnpcList();
        expect(after.find((entry) => entry.externalPort === granted)).toBeUndefined();
        expect(after).toContainEqual(expect.objectContaining({ externalPort: port, internalHost: LAB.otherLanIp }));
      });

      it("never takes over another program's mapping to this same host", async () => {
        // miniupnpd re-points an external port when the same LAN host asks for it again, even for
        // another internal port: the mapper must look before it asks.
        const port = 30_003;
        await upnpcAdd(LAB.nodeLanIp, 7002, port, 600, 'other-program');
        const started = await agent.call<StartResult>('managerStart', { nodeId: nodeId(), ports: [{ transport: 'tcp', port }] });
        const granted = portOf(started.addresses[0]!);
        expect(granted).not.toBe(port);
        expect(await upnpcList()).toContainEqual(
          expect.objectContaining({ externalPort: port, internalHost: LAB.nodeLanIp, internalPort: 7002, description: 'other-program' }),
        );
        await agent.call('managerStop');
        expect(await upnpcList()).toContainEqual(expect.objectContaining({ externalPort: port, internalPort: 7002 }));
      });

      it('reports the UPnP error code of a refusal: 718 ConflictInMappingEntry, 606 Action not authorized', async () => {
        const port = 30_004;
        await upnpcAdd(LAB.otherLanIp, 7003, port, 600, 'someone-else');
        // the gateway's own answer, through the SOAP client
        const raw = await agent.callExpectingError('soap', {
          action: 'AddPortMapping',
          args: [
            ['NewRemoteHost', ''], ['NewExternalPort', port], ['NewProtocol', 'TCP'], ['NewInternalPort', port],
            ['NewInternalClient', LAB.nodeLanIp], ['NewEnabled', 1], ['NewPortMappingDescription', 'meshlink-test'], ['NewLeaseDuration', 60],
          ],
        });
        expect(raw).toMatchObject({
          name: 'UpnpError', code: 'ERR_NAT', reason: 'refused', action: 'AddPortMapping', upnpCode: 718, upnpDescription: 'ConflictInMappingEntry', httpStatus: 500,
        });
        // the mapper sees the conflict with its lookup first and refuses the same way, without asking
        const conflict = await agent.callExpectingError('map', {
          protocol: 'TCP', internalPort: port, externalPort: port, exactExternalPort: true, ttlSeconds: 60, description: 'meshlink-test',
        });
        expect(conflict).toMatchObject({
          name: 'UpnpError', code: 'ERR_NAT', reason: 'refused', upnpCode: 718, detail: { heldBy: `${LAB.otherLanIp}:7003`, checkedBeforeAsking: true },
        });
        // the lab's rules allow external ports 1024-65535 only
        const forbidden = await agent.callExpectingError('map', {
          protocol: 'TCP', internalPort: port, externalPort: 80, exactExternalPort: true, ttlSeconds: 60, description: 'meshlink-test',
        });
        expect(forbidden).toMatchObject({ name: 'UpnpError', code: 'ERR_NAT', reason: 'refused', upnpCode: 606, upnpDescription: 'Action not authorized' });
        // removing a mapping that isn't there is not an error; removing someone else's is refused politely
        expect(await agent.call('unmap', { protocol: 'TCP', externalPort: 30_999, internalPort: 1 })).toBe(false);
        expect(await agent.call('unmap', { protocol: 'TCP', externalPort: port, internalPort: port })).toBe(false);
        expect(await upnpcList()).toContainEqual(expect.objectContaining({ externalPort: port, internalHost: LAB.otherLanIp }));
      });

      it('renews a short lease at half its length, so the mapping outlives it', async () => {
        const port = 30_005;
        await agent.call('echoServer', { port });
        // a control mapping with the same 4 s lease and nobody renewing it
        await upnpcAdd(LAB.otherLanIp, 7004, 30_905, 4, 'control');
        const from = agent.lines.length;
        const started = await agent.call<StartResult>('managerStart', {
          // the renewal floor (30 s by default) lowered to fit the short lease
          nodeId: nodeId(), ports: [{ transport: 'tcp', port }], leaseSeconds: 4, minRenewIntervalMs: 1000,
        });
        expect(started.addresses).toHaveLength(1);
        const t0 = Date.now();
        await until(async () => !(await upnpcList()).some((entry) => entry.externalPort === 30_905), 9000, 'the control mapping to lapse');
        expect(Date.now() - t0).toBeGreaterThan(2000);
        const table = await upnpcList();
        const ours = table.find((entry) => entry.externalPort === port);
        expect(ours).toMatchObject({ internalHost: LAB.nodeLanIp, internalPort: port });
        const renewals = agent.events('mapped', from).filter((line) => (line['detail'] as { renewed: boolean }).renewed);
        expect(renewals.length).toBeGreaterThanOrEqual(1);
        expect(await echoFromWan(LAB.gatewayWanIp, port)).toMatchObject({ ok: true });
        expect(warnings(agent, from)).toEqual([]);
        await agent.call('managerStop');
        expect((await upnpcList()).find((entry) => entry.externalPort === port)).toBeUndefined();
      });

      it('NAT-PMP: finds the gateway by the default route, reports the WAN address, maps a port a WAN peer reaches, and unmaps it', async () => {
        const port = 30_040 + igd;
        const pmp = await NamespaceProcess.start(LAB.lan, AGENT, { env: { LAN_AGENT_MAPPER: 'nat-pmp' } });
        try {
          expect(await pmp.call('gateway')).toBe(LAB.gatewayLanIp);
          expect(await pmp.call('externalIp')).toBe(LAB.gatewayWanIp);
          await pmp.call('echoServer', { port });
          const id = nodeId();
          // the manager's own mapper is given the gateway explicitly
          const started = await pmp.call<StartResult>('managerStart', { nodeId: id, ports: [{ transport: 'tcp', port }], mapper: { gateway: LAB.gatewayLanIp } });
          expect(started.addresses).toEqual([`tcp://${id}@${LAB.gatewayWanIp}:${port}`]);
          // miniupnpd keeps NAT-PMP mappings in the same table UPnP lists
          const ours = (await upnpcList()).find((entry) => entry.externalPort === port);
          expect(ours).toMatchObject({ protocol: 'TCP', internalHost: LAB.nodeLanIp, internalPort: port });
          expect(ours!.leaseSeconds).toBeGreaterThan(3500);
          expect(ours!.leaseSeconds).toBeLessThanOrEqual(3600);
          expect(await echoFromWan(LAB.gatewayWanIp, port)).toMatchObject({ ok: true });
          await pmp.call('managerStop');
          expect((await upnpcList()).find((entry) => entry.externalPort === port)).toBeUndefined();
          expect((await echoFromWan(LAB.gatewayWanIp, port)).ok).toBe(false);
          expect(warnings(pmp)).toEqual([]);

          // the mapper alone: map, then unmap (lifetime 0)
          const mapped = await pmp.call('map', { protocol: 'TCP', internalPort: port, externalPort: port, ttlSeconds: 120, description: 'meshlink-test' });
          expect(mapped).toMatchObject({ protocol: 'TCP', externalPort: port, internalHost: LAB.nodeLanIp, internalPort: port, ttlSeconds: 120 });
          expect(await upnpcList()).toContainEqual(expect.objectContaining({ externalPort: port, internalHost: LAB.nodeLanIp, internalPort: port }));
          expect(await pmp.call('unmap', { protocol: 'TCP', externalPort: port, internalPort: port })).toBe(true);
          expect((await upnpcList()).find((entry) => entry.externalPort === port)).toBeUndefined();
        } finally {
          const exit = await pmp.close(5000);
          expect(exit.killed).toBe(false);
        }
      });

      it('leaves nothing behind: once stopped and closed, the node process ends by itself', async () => {
        await agent.call('managerStart', { nodeId: nodeId(), ports: [{ transport: 'tcp', port: 30_006 }], leaseSeconds: 60 });
        const exit = await agent.close(5000);
        expect(exit.killed).toBe(false);
        expect(exit.ms).toBeLessThan(3000);
        expect((await upnpcList()).filter((entry) => entry.internalHost === LAB.nodeLanIp && entry.description === 'meshlink')).toEqual([]);
      });
    });
  }

  describe('no gateway on the LAN', () => {
    let agent: NamespaceProcess;
    beforeAll(async () => {
      labUp('none');
      agent = await NamespaceProcess.start(LAB.lan, AGENT);
    });
    afterAll(async () => {
      await agent?.close();
      labDown();
    });

    it('warns "no-gateway" within the discovery timeout, keeps running and retries on its interval', async () => {
      const from = agent.lines.length;
      const started = await agent.call<StartResult>('managerStart', {
        nodeId: nodeId(), ports: [{ transport: 'tcp', port: 30_010 }], retryIntervalMs: 1000, mapper: { discoveryTimeoutMs: 1000 },
      });
      expect(started.addresses).toEqual([]);
      expect(started.startMs).toBeGreaterThanOrEqual(900);
      expect(started.startMs).toBeLessThan(2500);
      expect(warnings(agent, from)[0]).toMatchObject({ reason: 'no-gateway', retryInMs: 1000, error: { code: 'ERR_NAT', reason: 'no-gateway' } });
      await agent.waitFor((line) => line['event'] === 'warning', 4000, 'a second no-gateway warning', agent.lines.length);
      expect(warnings(agent, from).length).toBeGreaterThanOrEqual(2);
      expect(await agent.call('ping')).toBe('pong');
      const stopped = await agent.call<{ stopMs: number }>('managerStop');
      expect(stopped.stopMs).toBeLessThan(1500);
      // no SSDP socket or retry timer outlives stop()
      const exit = await agent.close(5000);
      expect(exit.killed).toBe(false);
      expect(exit.ms).toBeLessThan(3000);
    });

    it('NAT-PMP: warns "no-gateway" (a NatPmpError) once its bounded retransmissions go unanswered; calls are cancellable', async () => {
      const pmp = await NamespaceProcess.start(LAB.lan, AGENT, { env: { LAN_AGENT_MAPPER: 'nat-pmp' } });
      try {
        const started = await pmp.call<StartResult>('managerStart', {
          nodeId: nodeId(), ports: [{ transport: 'tcp', port: 30_011 }], retryIntervalMs: 60_000, mapper: { timeoutMs: 1000 },
        });
        expect(started.addresses).toEqual([]);
        expect(started.startMs).toBeGreaterThanOrEqual(900);
        expect(started.startMs).toBeLessThan(2500);
        expect(warnings(pmp)[0]).toMatchObject({
          reason: 'no-gateway', retryInMs: 60_000,
          // sent at 0, 250 and 750 ms (RFC 6886 doubling), then the 1000 ms bound
          error: { name: 'NatPmpError', code: 'ERR_NAT', reason: 'no-gateway', opcode: 0, detail: { gateway: LAB.gatewayLanIp, requests: 3 } },
        });
        const aborted = await pmp.call<{ ms: number; error: Record<string, unknown> }>('abortedExternalIp', { abortAfterMs: 300 });
        expect(aborted.ms).toBeLessThan(1000);
        expect(aborted.error['name']).toMatch(/AbortError|TimeoutError/);
        const stopped = await pmp.call<{ stopMs: number }>('managerStop');
        expect(stopped.stopMs).toBeLessThan(1500);
      } finally {
        const exit = await pmp.close(5000);
        expect(exit.killed).toBe(false);
        expect(exit.ms).toBeLessThan(3000);
      }
    });
  });

  for (const version of ['v1', 'v2'] as const) {
    // IGDv1's AddPortMapping answers 606; IGDv2's AddAnyPortMapping answers 728 NoPortMapsAvailable.
    const code = version === 'v1' ? 606 : 728;

    describe(`an IGD${version} gateway that refuses every mapping`, () => {
      let agent: NamespaceProcess;
      beforeAll(async () => {
        labUp(version, 'deny');
        agent = await NamespaceProcess.start(LAB.lan, AGENT);
      });
      afterAll(async () => {
        await agent?.close();
        labDown();
      });

      it(`warns "refused" with UPnP code ${code}, keeps running and retries`, async () => {
        const from = agent.lines.length;
        const started = await agent.call<StartResult>('managerStart', {
          nodeId: nodeId(), ports: [{ transport: 'tcp', port: 30_020 }], retryIntervalMs: 1000,
        });
        expect(started.addresses).toEqual([]);
        expect(warnings(agent, from)[0]).toMatchObject({ reason: 'refused', upnpCode: code, port: 30_020, retryInMs: 1000 });
        await agent.waitFor((line) => line['event'] === 'warning', 4000, 'a retry', agent.lines.length);
        expect(warnings(agent, from).every((w) => w['reason'] === 'refused')).toBe(true);
        expect(await upnpcList()).toEqual([]);
        await agent.call('managerStop');
      });
    });
  }

  describe('double NAT: the gateway has a private WAN address', () => {
    let agent: NamespaceProcess;
    beforeAll(async () => {
      labUp('v2', 'private-wan');
      agent = await NamespaceProcess.start(LAB.lan, AGENT);
    });
    afterAll(async () => {
      await agent?.close();
      labDown();
    });

    it('warns that the external address is unusable, maps nothing and retries', async () => {
      const from = agent.lines.length;
      const started = await agent.call<StartResult>('managerStart', {
        nodeId: nodeId(), ports: [{ transport: 'tcp', port: 30_030 }], retryIntervalMs: 1000,
      });
      expect(started.addresses).toEqual([]);
      // miniupnpd reports '' for a private WAN address (a gateway that reports it as is gets
      // 'private-external-ip': see nat-manager.test.ts)
      expect(warnings(agent, from)[0]).toMatchObject({ reason: 'no-external-ip', externalIp: '', retryInMs: 1000 });
      await agent.waitFor((line) => line['event'] === 'warning', 4000, 'a retry', agent.lines.length);
      expect(await upnpcList()).toEqual([]);
      await agent.call('managerStop');
    });
  });
});
