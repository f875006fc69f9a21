import { Resolver, lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { classifyHost, isLocalScope } from '../../src/transport/ip.js';

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** The `lookup` option of net.connect and http.request (which ws passes through). */
export type GuardedLookup = (hostname: string, options: LookupOptions, callback: LookupCallback) => void;

/** How long the resolver waits for a DNS server's answer to one query, and how often it asks. */
const QUERY_TIMEOUT_MS = 2500;
const QUERY_TRIES = 2;
/**
 * DNS servers that did not answer in time: the system's lookup would wait on the same servers, in the
 * thread pool. Any other failure (a name DNS does not know, no server listening) is asked of the
 * system's lookup, which answers from local sources too (a hosts file, mDNS).
 */
const DNS_TIMEOUT_CODE = 'ETIMEOUT';

/**
 * One resolver (c-ares) for every guarded lookup. Its queries run on the event loop, each bounded by
 * QUERY_TIMEOUT_MS × QUERY_TRIES. The system's lookup (getaddrinfo) runs in libuv's thread pool, which
 * lets at most two DNS lookups run at once (half its four threads): a peer naming hosts whose DNS
 * servers never answer (a domain of its own) held both for the system's timeout each (10 s with glibc's
 * defaults), and every other lookup of the process, the app's own names included, waited behind them.
 */
let sharedResolver: Resolver | undefined;
function resolver(): Resolver {
  return (sharedResolver ??= new Resolver({ timeout: QUERY_TIMEOUT_MS, tries: QUERY_TRIES }));
}

/**
 * Names DNS had no address for go to the system's lookup one at a time, at most this many waiting
 * (past them: no address). Its slots are libuv's two DNS slots: a server that says "no address" to
 * our DNS query and then never answers the system's lookup (a domain a peer controls; a "no data"
 * answer need not be cached) had two peer-named names hold both for the system's timeout (10 s), as
 * before c-ares. One at a time, the process's own lookups always have the other.
 */
const SYSTEM_LOOKUPS_WAITING = 8;
let systemLookupRunning = false;
const systemLookupsWaiting: (() => void)[] = [];

/** Runs `run` (a system lookup, which calls `done` once) when none other of ours runs; false when too many wait. */
function oneSystemLookupAtATime(run: (done: () => void) => void): boolean {
  const next = (): void => {
    const waiting = systemLookupsWaiting.shift();
    if (waiting === undefined) systemLookupRunning = false;
    else waiting();
  };
  const start = (): void => {
    systemLookupRunning = true;
    run(next);
  };
  if (!systemLookupRunning) start();
  else if (systemLookupsWaiting.length < SYSTEM_LOOKUPS_WAITING) systemLookupsWaiting.push(start);
  else return false;
  return true;
}

/**
 * The lookup for names peers hand us (PEX, a NodeInfo). Unless `allowLocal`, it refuses names resolving
 * to loopback, private, link-local or reserved addresses: the address book refuses such IP literals, but
 * a name is only known at dial time, and `tcp://…@evil.example:26656` resolving to 127.0.0.1 or 10.0.0.5
 * would make the node connect into its own host or LAN on a stranger's word. The check sits in the lookup
 * itself, so the address connected to is the address checked (no second resolution to rebind). IP
 * literals skip lookup entirely (Node does not call it for them). Names are asked of DNS first (see `resolver`);
 * only a name DNS gave no address for, other than by timing out, goes to the system's lookup, one at a
 * time (oneSystemLookupAtATime). A dial gets at most ADDRESSES_PER_FAMILY addresses of each family.
 * With `allowLocal`, names that only local sources know by their spelling (localhost, a single label,
 * .local, .lan, …: ip.ts's loopback and private names) go to the system's lookup at once, one at a time
 * as well: asked of DNS first, they failed wherever its servers did not answer (a LAN cut off from its
 * upstream) although the hosts file or mDNS knew them.
 */
export function guardedLookup(options: { allowLocal: boolean }): GuardedLookup {
  const { allowLocal } = options;
  return (hostname, lookupOptions, callback) => {
    const settle = (addresses: LookupAddress[], error: NodeJS.ErrnoException | null): void => answer(hostname, lookupOptions, addresses, error, allowLocal, callback);
    if (allowLocal && isLocalOnlyName(hostname)) {
      askSystem(hostname, lookupOptions, null, settle);
      return;
    }
    resolveByDns(hostname, lookupOptions.family, (dnsError, found) => {
      if (found.length > 0 || dnsError?.code === DNS_TIMEOUT_CODE) settle(found, dnsError);
      else askSystem(hostname, lookupOptions, dnsError, settle);
    });
  };
}

/** A name only local sources answer, by its spelling: localhost, a single label, a LAN suffix. */
function isLocalOnlyName(hostname: string): boolean {
  const { scope } = classifyHost(hostname);
  return scope === 'loopback' || scope === 'private';
}

/** Asks the system's lookup, one at a time (past SYSTEM_LOOKUPS_WAITING: `dnsError`, or no address). */
function askSystem(hostname: string, lookupOptions: LookupOptions, dnsError: NodeJS.ErrnoException | null, settle: (addresses: LookupAddress[], error: NodeJS.ErrnoException | null) => void): void {
  const queued = oneSystemLookupAtATime((done) => {
    try {
      dnsLookup(hostname, { ...lookupOptions, all: true }, (error, addresses) => {
        done();
        settle(error === null ? addresses : [], error);
      });
    } catch (error) {
      // A throw (bad options) must not keep the one slot taken for good.
      done();
      settle([], error as NodeJS.ErrnoException);
    }
  });
  if (!queued) settle([], dnsError);
}

/** The name options of tcpTransport and wsTransport. */
export interface DialNameOptions {
  /**
   * Dial host names that resolve to loopback, private, link-local or reserved addresses. IP literals
   * are always dialled as given (the address book decides about those). @default true
   */
  allowLocalNames?: boolean;
  /**
   * Names to dial may come from peers (PEX, a NodeInfo): look them up through the guarded lookup (DNS
   * on the event loop, each query bounded; two addresses of each family) even where local names are
   * allowed, so that a peer's names cannot hold the process's system lookups. Always so when
   * `allowLocalNames` is false. @default false
   */
  peerNames?: boolean;
}

/** The `lookup` option of a dial with these name options: none (the system's lookup) for the app's own names. */
export function dialLookupOption(options: DialNameOptions): { lookup?: GuardedLookup } {
  if (options.allowLocalNames === false) return { lookup: guardedLookup({ allowLocal: false }) };
  return options.peerNames === true ? { lookup: guardedLookup({ allowLocal: true }) } : {};
}

/** Asks DNS for the name's IPv4 and IPv6 addresses at once (one of them when `family` says so). */
function resolveByDns(hostname: string, family: LookupOptions['family'], done: (error: NodeJS.ErrnoException | null, found: LookupAddress[]) => void): void {
  const families = family === 4 || family === 'IPv4' ? [4] : family === 6 || family === 'IPv6' ? [6] : [4, 6];
  const found: LookupAddress[][] = [];
  let firstError: NodeJS.ErrnoException | null = null;
  let left = families.length;
  families.forEach((version, index) => {
    const settle = (error: NodeJS.ErrnoException | null, addresses: string[]): void => {
      // A timeout wins: the system's lookup must not be left to wait on the same servers.
      if (error !== null && (firstError === null || error.code === DNS_TIMEOUT_CODE)) firstError = error;
      found[index] = error === null ? addresses.map((address) => ({ address, family: version })) : [];
      if (--left > 0) return;
      const all = found.flat();
      done(all.length > 0 ? null : firstError, all);
    };
    if (version === 4) resolver().resolve4(hostname, settle);
    else resolver().resolve6(hostname, settle);
  });
}

/**
 * Addresses a dial of one name may try, of each family. Node tries every address a lookup gives, in
 * turn (autoSelectFamily): a peer's name with 64 A records had one dial of ours try 64 hosts of its
 * choosing (at once where each refused, 250 ms each where none answered), past every bound on what we
 * dial per address, host and domain. Two of each, as Happy Eyeballs needs.
 */
const ADDRESSES_PER_FAMILY = 2;

/**
 * Addresses a refusal names: one DNS answer holds ~4,000 A records of the name's owner's choosing,
 * and each dial's error (dial:failed, logs) named them all (56,000 characters).
 */
const ADDRESSES_NAMED = 4;

function namedAddresses(addresses: LookupAddress[]): string {
  const named = addresses.slice(0, ADDRESSES_NAMED).map((entry) => entry.address).join(', ');
  return addresses.length > ADDRESSES_NAMED ? `${named} and ${addresses.length - ADDRESSES_NAMED} more` : named;
}

function firstOfEachFamily(addresses: LookupAddress[]): LookupAddress[] {
  const taken = new Map<number, number>();
  return addresses.filter(({ family }) => {
    const count = taken.get(family) ?? 0;
    taken.set(family, count + 1);
    return count < ADDRESSES_PER_FAMILY;
  });
}

function answer(
  hostname: string,
  options: LookupOptions,
  addresses: LookupAddress[],
  error: NodeJS.ErrnoException | null,
  allowLocal: boolean,
  callback: LookupCallback,
): void {
  if (addresses.length === 0) {
    callback(error ?? Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), options.all === true ? [] : '');
    return;
  }
  const allowed = firstOfEachFamily(addresses.filter((entry) => {
    const { scope } = classifyHost(entry.address);
    return scope === 'public' || (allowLocal && isLocalScope(scope));
  }));
  if (allowed.length === 0) {
    const refused = Object.assign(
      new Error(`${hostname} resolves to ${namedAddresses(addresses)}, ${allowLocal ? 'no address to dial' : 'a local address (allowLocal is off)'}`),
      { code: allowLocal ? 'ERR_UNDIALABLE_ADDRESS' : 'ERR_LOCAL_ADDRESS' },
    ) as NodeJS.ErrnoException;
    callback(refused, options.all === true ? [] : '');
    return;
  }
  if (options.all === true) callback(null, allowed);
  else callback(null, allowed[0]!.address, allowed[0]!.family);
}
