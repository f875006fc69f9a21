import type { Agent } from '../switch/agent.js';
import type { Switch } from '../switch/switch.js';
import { TypedEventTarget } from '../util/events.js';
import { NatManager } from './nat-manager.js';
import type { NatManagerConfig } from './nat-manager-config.js';
import type { NatManagerEvents } from './nat-events.js';
import { natPortsFromListenAddresses } from './nat-ports.js';
import type { PortMapper } from './port-mapper.js';

export interface NatAgentOptions extends Partial<NatManagerConfig> {
  /** Makes the PortMapper when the switch starts (so a stopped-and-restarted node gets a fresh one). */
  createMapper: () => PortMapper;
}

/**
 * Maps the node's listening ports on the gateway and advertises the external addresses through the
 * Switch (so they go out in NodeInfo, and from there through PEX). An agent without channels: it only
 * uses the start/stop lifecycle. Mapping runs in the background: a missing or refusing gateway delays
 * nothing, it only produces `warning` events, and the node keeps running on its local addresses.
 */
export class NatAgent extends TypedEventTarget<NatManagerEvents> implements Agent {
  readonly channels = [] as const;
  private manager: NatManager | undefined;
  private advertised: string[] = [];

  constructor(private readonly options: NatAgentOptions) {
    super();
  }

  get addresses(): string[] {
    return this.manager?.advertisedAddresses() ?? [];
  }

  start(sw: Switch): void {
    const { createMapper, ...config } = this.options;
    const manager = new NatManager({ ...config, mapper: createMapper(), nodeId: sw.nodeId, ports: natPortsFromListenAddresses(sw.addresses) });
    this.manager = manager;
    manager.on('addresses', ({ addresses }) => {
      for (const old of this.advertised) if (!addresses.includes(old)) sw.removeExternalAddress(old);
      for (const address of addresses) sw.addExternalAddress(address);
      this.advertised = addresses;
      this.emit('addresses', { addresses });
    });
    manager.on('mapped', (detail) => this.emit('mapped', detail));
    manager.on('unmapped', (detail) => this.emit('unmapped', detail));
    manager.on('warning', (detail) => this.emit('warning', detail));
    void manager.start();
  }

  async stop(): Promise<void> {
    const manager = this.manager;
    this.manager = undefined;
    await manager?.stop();
  }
}
