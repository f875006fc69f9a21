import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { classifyHost } from '../../src/transport/ip.js';

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** The `lookup` option of net.connect and http.request (which ws passes through). */
export type GuardedLookup = (hostname: string, options: LookupOptions, callback: LookupCallback) => void;

/**
 * A DNS lookup for dialers that refuses names resolving to loopback, private, link-local or reserved
 * addresses. The address book refuses such IP literals unless `allowLocal`, but a name is only known
 * at dial time: without this, `tcp://…@evil.example:26656` that resolves to 127.0.0.1 or 10.0.0.5 would
 * make the node connect into its own host or LAN on a stranger's word. The check sits in the lookup
 * itself, so the address connected to is the address checked (no second resolution to rebind).
 * IP literals skip lookup entirely (Node does not call it for them).
 */
export function localRefusingLookup(): GuardedLookup {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error !== null) {
        callback(error, options.all === true ? [] : '');
        return;
      }
      const allowed = addresses.filter((entry) => classifyHost(entry.address).scope === 'public');
      if (allowed.length === 0) {
        const refused = Object.assign(
          new Error(`${hostname} resolves to ${addresses.map((entry) => entry.address).join(', ') || 'nothing'}, a local address (allowLocal is off)`),
          { code: 'ERR_LOCAL_ADDRESS' },
        ) as NodeJS.ErrnoException;
        callback(refused, options.all === true ? [] : '');
        return;
      }
      if (options.all === true) callback(null, allowed);
      else callback(null, allowed[0]!.address, allowed[0]!.family);
    });
  };
}
