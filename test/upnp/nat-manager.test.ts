import { afterEach, describe, expect, it } from 'vitest';
import { ClosedError, ConfigError } from '../../src/errors.js';
import {
  classifyExternalIp,
  NatError,
  NatManager,
  UpnpError,
  natPortsFromListenAddresses,
  type Mapping,
  type MapRequest,
  type NatCallOptions,
  type NatManagerEvents,
  type NatManagerOptions,
  type PortMapper,
  type UnmapRequest,
} from '../../src/nat/index.js';
import { systemClock, type Clock } from '../../src/util/clock.js';

const NODE_ID = 'ab'.repeat(20);

/** A scriptable PortMapper that records every call. */
class FakeMapper implements PortMapper {
  readonly kind = 'fake';
  externalIpValue: string | (() => string) = '8.8.4.7'; // a public address
  /** Return a Mapping, or throw. Default: grant the wanted port. */
  onMap: (request: MapRequest) => Mapping | Promise<Mapping> = (request) => grant(request);
  onUnmap: (request: UnmapRequest) => boolean | Promise<boolean> = () => true;
  readonly maps: MapRequest[] = [];
  readonly unmaps: UnmapRequest[] = [];
  externalIpCalls = 0;
  closed = false;

  async externalIp(_options?: NatCallOptions): Promise<string> {
    this.externalIpCalls += 1;
    if (this.closed) throw new ClosedError();
    return typeof this.externalIpValue === 'function' ? this.externalIpValue() : this.externalIpValue;
  }

  async map(request: MapRequest, _options?: NatCallOptions): Promise<Mapping> {
    if (this.closed) throw new ClosedError();
    this.maps.push(request);
    return this.onMap(request);
  }

  async unmap(request: UnmapRequest, _options?: NatCallOptions): Promise<boolean> {
    this.unmaps.push(request);
    return this.onUnmap(request);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

function grant(request: MapRequest, externalPort = request.externalPort ?? request.internalPort): Mapping {
  return {
    protocol: request.protocol,
    externalPort,
    internalHost: request.internalHost ?? '192.168.1.20',
    internalPort: request.internalPort,
    description: request.description,
    ttlSeconds: request.ttlSeconds,
  };
}

function refusal(code: number, description: string): UpnpError {
  return new UpnpError(`refused ${code}`, { action: 'AddPortMapping', upnpCode: code, upnpDescription: description });
}

const managers: NatManager[] = [];
afterEach(async () => {
  await Promise.all(managers.splice(0).map((m) => m.stop()));
});

function manage(mapper: FakeMapper, options: Partial<NatManagerOptions> = {}): NatManager {
  const manager = new NatManager({ mapper, nodeId: NODE_ID, ports: [{ transport: 'tcp', port: 26656 }], ...options });
  managers.push(manager);
  return manager;
}

function record<K extends keyof NatManagerEvents>(manager: NatManager, type: K): Array<NatManagerEvents[K]> {
  const seen: Array<NatManagerEvents[K]> = [];
  manager.on(type, (detail) => seen.push(detail));
  return seen;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function eventually(check: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}

describe('NatManager', () => {
  // Leases of a second or two keep these tests short: their renewal floor (30 s by default) is lowered to match.
  it('maps every listening port and advertises tcp and ws addresses with the external ip and granted ports', async () => {
    const mapper = new FakeMapper();
    mapper.onMap = (request) => grant(request, request.internalPort + 1000);
    const manager = manage(mapper, {
      ports: [
        { transport: 'tcp', port: 26656, host: '0.0.0.0' },
        { transport: 'ws', port: 8080, path: '/p2p' },
      ],
    });
    const mapped = record(manager, 'mapped');
    const addresses = await manager.start();
    expect(addresses).toEqual([`tcp://${NODE_ID}@8.8.4.7:27656`, `ws://${NODE_ID}@8.8.4.7:9080/p2p`]);
    expect(manager.advertisedAddresses()).toEqual(addresses);
    expect(mapped.map((m) => [m.mapping.internalPort, m.mapping.externalPort, m.renewed])).toEqual([
      [26656, 27656, false],
      [8080, 9080, false],
    ]);
    expect(mapper.maps[0]).toMatchObject({ protocol: 'TCP', internalPort: 26656, externalPort: 26656, ttlSeconds: 3600, description: 'meshlink' });
    expect(mapper.maps[0]!.internalHost).toBeUndefined(); // wildcard listener: the mapper picks the LAN address
    expect(mapper.maps[0]!.exactExternalPort).toBeFalsy();
  });

  it('skips loopback listeners with an "unmappable-listener" warning and maps a port shared by two transports once', async () => {
    const mapper = new FakeMapper();
    const manager = manage(mapper, {
      ports: [
        { transport: 'tcp', port: 26656, host: '127.0.0.1' },
        { transport: 'tcp', port: 4000 },
        { transport: 'ws', port: 4000 },
      ],
    });
    const warnings = record(manager, 'warning');
    expect(await manager.start()).toEqual([`tcp://${NODE_ID}@8.8.4.7:4000`]);
    expect(warnings).toEqual([expect.objectContaining({ reason: 'unmappable-listener', port: 26656, host: '127.0.0.1' })]);
    expect(mapper.maps).toHaveLength(1);
  });

  it('builds its ports from listen addresses', () => {
    expect(natPortsFromListenAddresses(['tcp://0.0.0.0:26656', 'ws://192.168.1.2:8080/p2p', 'memory://x', 'tcp://0.0.0.0:0'])).toEqual([
      { transport: 'tcp', port: 26656, host: '0.0.0.0', path: undefined },
      { transport: 'ws', port: 8080, host: '192.168.1.2', path: '/p2p' },
    ]);
  });

  it('warns "private-external-ip" behind a double NAT, maps nothing, and retries on its interval', async () => {
    const mapper = new FakeMapper();
    mapper.externalIpValue = '100.64.12.1';
    const manager = manage(mapper, { retryIntervalMs: 50 });
    const warnings = record(manager, 'warning');
    expect(await manager.start()).toEqual([]);
    expect(warnings[0]).toMatchObject({ reason: 'private-external-ip', externalIp: '100.64.12.1', retryInMs: 50 });
    expect(mapper.maps).toHaveLength(0);
    await eventually(() => mapper.externalIpCalls >= 3);
    mapper.externalIpValue = '8.8.4.7';
    const addresses = record(manager, 'addresses');
    await eventually(() => addresses.length > 0);
    expect(addresses[0]!.addresses).toEqual([`tcp://${NODE_ID}@8.8.4.7:26656`]);
  });

  it('advertises a private external address when allowPrivateExternalIp is set', async () => {
    const mapper = new FakeMapper();
    mapper.externalIpValue = '10.1.2.3';
    const manager = manage(mapper, { allowPrivateExternalIp: true });
    expect(await manager.start()).toEqual([`tcp://${NODE_ID}@10.1.2.3:26656`]);
  });

  it('warns "no-external-ip" when the gateway reports an empty external address', async () => {
    const mapper = new FakeMapper();
    mapper.externalIpValue = '';
    const manager = manage(mapper);
    const warnings = record(manager, 'warning');
    expect(await manager.start()).toEqual([]);
    expect(warnings).toEqual([expect.objectContaining({ reason: 'no-external-ip', externalIp: '', retryInMs: 300_000 })]);
  });

  it('warns "no-gateway" when discovery fails, and never rejects start()', async () => {
    const mapper = new FakeMapper();
    mapper.externalIp = async () => {
      throw new NatError('no-gateway', 'No UPnP gateway answered');
    };
    const manager = manage(mapper);
    const warnings = record(manager, 'warning');
    expect(await manager.start()).toEqual([]);
    expect(warnings).toEqual([expect.objectContaining({ reason: 'no-gateway', upnpCode: undefined, retryInMs: 300_000 })]);
  });

  it('warns "refused" with the UPnP code, then maps once the gateway agrees', async () => {
    const mapper = new FakeMapper();
    let refuse = true;
    mapper.onMap = (request) => {
      if (refuse) throw refusal(606, 'Action not authorized');
      return grant(request);
    };
    const manager = manage(mapper, { retryIntervalMs: 40 });
    const warnings = record(manager, 'warning');
    const addresses = record(manager, 'addresses');
    expect(await manager.start()).toEqual([]);
    expect(warnings[0]).toMatchObject({ reason: 'refused', upnpCode: 606, upnpDescription: 'Action not authorized', port: 26656, retryInMs: 40 });
    expect(warnings[0]!.reason === 'refused' && warnings[0]!.error).toBeInstanceOf(UpnpError);
    refuse = false;
    await eventually(() => addresses.length === 1);
    expect(addresses[0]!.addresses).toEqual([`tcp://${NODE_ID}@8.8.4.7:26656`]);
  });

  it('renews each mapping at half its lease, asking for exactly the granted port', async () => {
    const mapper = new FakeMapper();
    mapper.onMap = (request) => grant(request, request.externalPort === 26656 ? 40000 : request.externalPort);
    const manager = manage(mapper, { leaseSeconds: 1, minRenewIntervalMs: 100 });
    const mapped = record(manager, 'mapped');
    const t0 = Date.now();
    await manager.start();
    await eventually(() => mapped.length >= 3);
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(900); // two renewals, ~500 ms apart
    expect(elapsed).toBeLessThan(2000);
    expect(mapper.maps.slice(1).every((m) => m.externalPort === 40000 && m.exactExternalPort === true)).toBe(true);
    expect(mapped.slice(1).every((m) => m.renewed)).toBe(true);
    expect(manager.advertisedAddresses()).toEqual([`tcp://${NODE_ID}@8.8.4.7:40000`]);
  });

  it('keeps advertising through failed renewals until the lease runs out, then withdraws the address', async () => {
    const mapper = new FakeMapper();
    let fail = false;
    mapper.onMap = (request) => {
      if (fail) throw new UpnpError('UPnP AddPortMapping: connect ECONNREFUSED', { action: 'AddPortMapping' });
      return grant(request);
    };
    const manager = manage(mapper, { leaseSeconds: 2, minRenewIntervalMs: 100 });
    const warnings = record(manager, 'warning');
    const unmapped = record(manager, 'unmapped');
    const addresses = record(manager, 'addresses');
    await manager.start();
    fail = true;
    await eventually(() => warnings.length >= 1, 3000);
    expect(warnings[0]).toMatchObject({ reason: 'renew-failed', port: 26656, upnpCode: undefined });
    expect(manager.advertisedAddresses()).toHaveLength(1); // still inside the lease
    await eventually(() => unmapped.length === 1, 3000);
    expect(unmapped[0]!.reason).toBe('expired');
    expect(addresses.at(-1)!.addresses).toEqual([]);
    expect(manager.advertisedAddresses()).toEqual([]);
  });

  it('renews on time across a one-hour step back of the wall clock, and its events keep wall-clock times (before: renewal put off for the hour, the lease lapsing under the address)', async () => {
    const mapper = new FakeMapper();
    let stepMs = 0;
    // Only the wall clock steps (NTP correcting a fast clock, a VM restored); timers and monotonic time do not.
    const clock: Clock = { ...systemClock, now: () => Date.now() + stepMs };
    const manager = manage(mapper, { leaseSeconds: 2, minRenewIntervalMs: 100, clock });
    const mapped = record(manager, 'mapped');
    await manager.start();
    expect(mapped).toHaveLength(1);
    stepMs = -3_600_000;
    // The renewal is due at half the lease (1 s); the gateway's lease runs out at 2 s.
    await eventually(() => mapped.length >= 2, 1800);
    expect(mapped[1]!.renewed).toBe(true);
    expect(Math.abs(mapped[1]!.mapping.mappedAt - clock.now())).toBeLessThan(1000);
    expect(manager.advertisedAddresses()).toEqual([`tcp://${NODE_ID}@8.8.4.7:26656`]);
  });

  it('maps afresh when a renewal finds its port taken (718), and advertises the new port', async () => {
    const mapper = new FakeMapper();
    let renewals = 0;
    mapper.onMap = (request) => {
      if (request.exactExternalPort) {
        renewals += 1;
        throw refusal(718, 'ConflictInMappingEntry');
      }
      return grant(request, mapper.maps.length === 1 ? 26656 : 31000);
    };
    const manager = manage(mapper, { leaseSeconds: 1, minRenewIntervalMs: 100 });
    const addresses = record(manager, 'addresses');
    await manager.start();
    await eventually(() => addresses.length >= 2);
    expect(renewals).toBeGreaterThanOrEqual(1);
    expect(addresses.at(-1)!.addresses).toEqual([`tcp://${NODE_ID}@8.8.4.7:31000`]);
  });

  it('follows a change of the external address', async () => {
    const mapper = new FakeMapper();
    const manager = manage(mapper, { leaseSeconds: 1, minRenewIntervalMs: 100 });
    const addresses = record(manager, 'addresses');
    await manager.start();
    mapper.externalIpValue = '8.8.8.8';
    await eventually(() => addresses.length >= 2);
    expect(addresses.at(-1)!.addresses).toEqual([`tcp://${NODE_ID}@8.8.8.8:26656`]);
  });

  it('stop() removes its own mappings (naming the internal port so others are left alone), closes the mapper and stops all work', async () => {
    const mapper = new FakeMapper();
    const manager = manage(mapper, { leaseSeconds: 1, ports: [{ transport: 'tcp', port: 1111 }, { transport: 'tcp', port: 2222 }] });
    const unmapped = record(manager, 'unmapped');
    const addresses = record(manager, 'addresses');
    await manager.start();
    await manager.stop();
    expect(manager.state).toBe('stopped');
    expect(mapper.closed).toBe(true);
    expect(mapper.unmaps).toEqual([
      { protocol: 'TCP', externalPort: 1111, internalHost: '192.168.1.20', internalPort: 1111 },
      { protocol: 'TCP', externalPort: 2222, internalHost: '192.168.1.20', internalPort: 2222 },
    ]);
    expect(unmapped.map((u) => u.reason)).toEqual(['stopped', 'stopped']);
    expect(addresses.at(-1)!.addresses).toEqual([]);
    const calls = mapper.maps.length + mapper.externalIpCalls;
    await sleep(700); // past the first renewal time
    expect(mapper.maps.length + mapper.externalIpCalls).toBe(calls);
    await expect(manager.start()).rejects.toBeInstanceOf(ClosedError);
    await manager.stop(); // idempotent
  });

  it('stop() never rejects: a failed removal becomes an "unmap-failed" warning', async () => {
    const mapper = new FakeMapper();
    mapper.onUnmap = () => {
      throw refusal(606, 'Action not authorized');
    };
    const manager = manage(mapper);
    const warnings = record(manager, 'warning');
    await manager.start();
    await expect(manager.stop()).resolves.toBeUndefined();
    expect(warnings).toEqual([expect.objectContaining({ reason: 'unmap-failed', upnpCode: 606, port: 26656 })]);
  });

  it('stop() during a mapping request waits for it and removes what it granted', async () => {
    const mapper = new FakeMapper();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    mapper.onMap = async (request) => {
      await gate;
      return grant(request);
    };
    const manager = manage(mapper);
    const starting = manager.start();
    await eventually(() => mapper.maps.length === 1);
    const stopping = manager.stop();
    setTimeout(release, 50);
    await stopping;
    expect(await starting).toEqual([]);
    expect(mapper.unmaps).toEqual([expect.objectContaining({ externalPort: 26656, internalPort: 26656 })]);
  });

  it('rejects impossible configurations', () => {
    const mapper = new FakeMapper();
    expect(() => new NatManager({ mapper, nodeId: 'nope', ports: [] })).toThrow(ConfigError);
    expect(() => new NatManager({ mapper, nodeId: NODE_ID, ports: [{ transport: 'tcp', port: 0 }] })).toThrow(/bad listening port/);
    expect(() => new NatManager({ mapper, nodeId: NODE_ID, ports: [], leaseSeconds: 0 })).toThrow(/leaseSeconds/);
    expect(() => new NatManager({ mapper, nodeId: NODE_ID, ports: [], retryIntervalMs: -1 })).toThrow(/retryIntervalMs/);
    expect(() => new NatManager({ mapper, nodeId: NODE_ID, ports: [], minRenewIntervalMs: 0 })).toThrow(/minRenewIntervalMs/);
    expect(() => new NatManager({ mapper, nodeId: NODE_ID, ports: [], maxGatewayRequestsPerMinute: 1 })).toThrow(/maxGatewayRequestsPerMinute/);
  });
});

describe('classifyExternalIp', () => {
  it('tells public addresses from private, shared (CGNAT), reserved, empty and garbage ones', () => {
    for (const ip of ['8.8.8.8', '11.0.0.1', '172.32.0.1', '100.128.0.1', '192.169.0.1']) expect(classifyExternalIp(ip), ip).toBe('public');
    for (const ip of ['10.0.0.1', '172.16.5.4', '172.31.255.255', '192.168.1.1', '100.64.0.1', '100.127.255.254', '127.0.0.1', '169.254.1.1', '0.0.0.0', '198.18.0.1', '224.0.0.1', '255.255.255.255']) {
      expect(classifyExternalIp(ip), ip).toBe('private');
    }
    expect(classifyExternalIp('')).toBe('empty');
    expect(classifyExternalIp('  ')).toBe('empty');
    for (const ip of ['1.2.3', '256.1.1.1', '01.2.3.4', 'fe80::1', 'router']) expect(classifyExternalIp(ip), ip).toBe('invalid');
  });
});
