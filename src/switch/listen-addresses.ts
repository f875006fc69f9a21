import { ConfigError } from '../errors.js';
import { formatAddress, parseAddress, withNodeId, type PeerAddress } from '../transport/address.js';
import type { Link } from '../transport/link.js';
import type { Listener, Transport } from '../transport/transport.js';

/**
 * The listeners a Switch opened and the full addresses (with our node id) it advertises: those it
 * listens on, plus external ones learnt later (a NAT mapping).
 */
export class ListenAddresses {
  private readonly listeners: Listener[] = [];
  private addresses: string[] = [];

  constructor(private readonly nodeId: string) {}

  /** Listens on `text` through `transport`, handing each arriving link to `onLink`. */
  async listen(text: string, transportFor: (address: PeerAddress) => Transport, onLink: (link: Link) => void): Promise<void> {
    const address = parseAddress(text);
    const transport = transportFor(address);
    if (transport.listen === undefined) throw new ConfigError('ERR_NO_TRANSPORT', `The ${address.protocol} transport cannot listen`);
    const listener = await transport.listen(address, onLink);
    this.listeners.push(listener);
    for (const bound of listener.addresses) this.addresses.push(formatAddress(withNodeId(bound, this.nodeId)));
  }

  /** Our listen addresses and external ones added since, then `configured` (the options' externalAddresses). */
  all(configured: readonly string[]): string[] {
    return [...this.addresses, ...configured.map((a) => this.full(a))];
  }

  addExternal(address: string): void {
    const full = this.full(address);
    if (!this.addresses.includes(full)) this.addresses.push(full);
  }

  removeExternal(address: string): void {
    const full = this.full(address);
    this.addresses = this.addresses.filter((a) => a !== full);
  }

  /** Whether `address` (with any node id) is one we listen on, so a dial to it would reach ourselves. */
  isOwn(address: PeerAddress): boolean {
    return this.addresses.includes(formatAddress({ ...address, nodeId: this.nodeId }));
  }

  /** Closes every listener; resolves once all have closed (a failure to close counts as closed). */
  closeAll(): Promise<void> {
    return Promise.all(this.listeners.splice(0).map((listener) => listener.close().catch(() => undefined))).then(() => undefined);
  }

  private full(address: string): string {
    return formatAddress(withNodeId(parseAddress(address), this.nodeId));
  }
}
