/**
 * Types for the one part of nat-upnp 1.1.1 meshlink uses: its SSDP searcher
 * (`nat-upnp/lib/nat-upnp/ssdp.js`; the package ships no types and no "exports" map).
 */
declare module 'nat-upnp/lib/nat-upnp/ssdp.js' {
  import type { EventEmitter } from 'node:events';
  import type { Socket } from 'node:dgram';

  /** Emits 'device'(headers, localInterfaceAddress) per matching answer; emit 'end' to stop listening. */
  interface SsdpSearch extends EventEmitter {
    on(event: 'device', listener: (headers: Record<string, string>, address: string) => void): this;
    on(event: 'end', listener: () => void): this;
  }

  /** One UDP socket per non-internal interface address, bound on the next tick. */
  interface Ssdp extends EventEmitter {
    sockets: Socket[];
    search(searchTarget: string): SsdpSearch | undefined;
    /**
     * Called with each datagram a socket receives (as text), that socket's interface address and the
     * sender; emits '_device'(headers, address) for an answer, which each search listens to.
     */
    parseResponse(response: string, address: string, remote: { address: string; port: number }): void;
    close(): void;
  }

  const ssdp: { create(): Ssdp };
  export = ssdp;
}
