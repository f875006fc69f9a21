import { formatAddress, isNodeId, type PeerAddress } from '../transport/address.js';
import { canonicalText, parseCanonical } from '../transport/canonical-address.js';
import { isLocalScope } from '../transport/ip.js';
import type { BanList } from './address-book-bans.js';
import { MAX_OUR_PLACES } from './constants.js';
import { locationOf, locationOfCanonical, type KnownAddress } from './known-address.js';

/** Why addAddress did or did not add an address. Everything but 'added' and 'known' is a refusal. */
export type AddOutcome =
  /** New entry in a new bucket. */
  | 'added'
  /** Already in the book (its last-seen time is refreshed; it may gain another new bucket). */
  | 'known'
  /** Does not parse, port 0, or a host nobody can dial (unspecified, multicast, inet_aton shorthand). */
  | 'invalid-address'
  /** Parses but names no node, so it cannot be authenticated. */
  | 'no-node-id'
  /** The source is neither a node id nor an address. */
  | 'invalid-source'
  /** Our own node id or one of our own addresses. */
  | 'self'
  | 'banned'
  /** Loopback, private, link-local or reserved, and the book was not created with allowLocal. */
  | 'unroutable'
  /** The node id already has maxAddressesPerNodeId addresses and none of them is bad. */
  | 'too-many-addresses'
  /** The source's network group already has maxAddressesPerSourceGroup entries in the book. */
  | 'source-full'
  /** Its new bucket is full of entries that keep their place (see AddressTables.insertNewIfRoom). */
  | 'bucket-full';

/** Every outcome of examine() but a new or known entry. */
export type Rejection = Exclude<AddOutcome, 'added' | 'known'>;

/** A source as the book records it. */
export interface ExaminedSource {
  readonly source: string;
  readonly sourceGroup: string;
  readonly sourceNodeId: string;
  /** The source's host in canonical form (see canonicalForm); undefined for a bare node id. */
  readonly sourceHost?: string;
  /** The source without its node id: what a node's claim about itself on another host is credited to. */
  readonly hearsaySource?: string;
}

/** An address that passed examine(), with what the book files it under. */
export interface Candidate {
  readonly address: string;
  readonly nodeId: string;
  readonly group: string;
  readonly source: string;
  readonly sourceGroup: string;
  readonly sourceNodeId: string;
}

/**
 * What may enter the address book, whichever way it comes (a peer's answer, the saved file, a ban's
 * expiry): an address that parses to a dialable place naming a node, from a source that is a node id
 * or an address, that is not us, not banned, and routable (or local, when the book allows local). The
 * book asks it, then files the candidate; it holds our ids and places and the last source examined.
 */
export class AddressAdmission {
  private readonly ourNodeIds = new Set<string>();
  private readonly ourLocations = new Set<string>();
  private lastExaminedSource: { readonly raw: string; readonly result: ExaminedSource | undefined } | undefined;

  constructor(
    private readonly bans: BanList,
    private readonly allowLocal: boolean,
  ) {}

  addOurNodeId(nodeId: string): void {
    this.ourNodeIds.add(nodeId.toLowerCase());
  }

  /**
   * A place we listen at (locationOf an address of ours); false when it was known already. The
   * MAX_OUR_PLACES most recently declared are kept: callers declare every current address before each
   * answer, so a place we still hold is never the one forgotten, while those of mappings a gateway
   * granted and moved long ago go (an address there is then examined like any other's; a dial that
   * reaches us there fails as a connection to ourselves).
   */
  addOurLocation(location: string): boolean {
    const known = this.ourLocations.delete(location);
    this.ourLocations.add(location);
    if (this.ourLocations.size > MAX_OUR_PLACES) this.ourLocations.delete(this.ourLocations.values().next().value!);
    return !known;
  }

  /** True if the address names our node id or one of our places. */
  isOurs(address: PeerAddress): boolean {
    return this.isOurNodeId(address) || this.ourLocations.has(locationOf(address));
  }

  private isOurNodeId(address: PeerAddress): boolean {
    return address.nodeId !== undefined && this.ourNodeIds.has(address.nodeId);
  }

  /** Checks an (address, source) pair the way every way into the book must. */
  examine(address: string, source: string, nowMs: number): Candidate | Rejection {
    // One parse of the address and of its host for every check below: an IPv6 host was parsed four
    // times (canonical form, classification, our place, the claim check), ~3x what an IPv4 one cost.
    const form = parseCanonical(address);
    if (form === undefined) return 'invalid-address';
    const parsed = form.address;
    if (parsed.nodeId === undefined) return 'no-node-id';
    if (parsed.port === 0 && parsed.protocol !== 'memory' && parsed.protocol !== 'webrtc') return 'invalid-address';
    const { scope, group } = form.classification;
    if (scope === 'invalid' || scope === 'unspecified' || scope === 'multicast') return 'invalid-address';
    const examinedSource = this.examineSource(source);
    if (examinedSource === undefined) return 'invalid-source';
    if (this.isOurNodeId(parsed) || this.ourLocations.has(locationOfCanonical(parsed))) return 'self';
    if (this.bans.isBanned(parsed.nodeId, nowMs)) return 'banned';
    if (scope !== 'public' && !(this.allowLocal && isLocalScope(scope))) return 'unroutable';
    const { sourceGroup, sourceHost, hearsaySource } = examinedSource;
    let { source: normalizedSource, sourceNodeId } = examinedSource;
    // A node's word about itself (its NodeInfo, or itself in its pexResponse) is first-hand, which puts
    // it in front of our PEX answers, only on the host where we reach it: anyone can claim addresses on
    // any host, and fresh keys claiming a victim's host would have every node that asks us sent there.
    // A claim on another host (a second interface, a DNS name) is kept as hearsay, credited to no node.
    // A dual-stack listener sees an IPv4 peer at ::ffff:a.b.c.d: the same host as the a.b.c.d it claims.
    const claimedHost = parsed.host;
    if (sourceNodeId === parsed.nodeId && hearsaySource !== undefined && claimedHost !== '' && claimedHost !== sourceHost) {
      normalizedSource = hearsaySource;
      sourceNodeId = '';
    }
    // Re-encoding may lengthen an address (`:` in a query becomes `%3A`): a form past parseAddress's cap
    // would be refused by every peer we hand it to, and the PEX decoder bans the sender of one. Holding
    // it would let a liar get us banned by everyone we answer (before: 963 characters grew to 2,763).
    const canonical = canonicalText(parsed, address);
    if (canonical === undefined) return 'invalid-address';
    // Keep the caller's string when it is already canonical (the usual case): the node id parsed out of
    // it is a view into it, so the entry then holds one address string, not two.
    return { address: canonical === address ? address : canonical, nodeId: parsed.nodeId, group, source: normalizedSource, sourceGroup, sourceNodeId };
  }

  /**
   * The normalised source, its network group and the node id it names; undefined when it is neither a
   * node id nor an address. A PEX response adds many addresses from one source, so the last answer is
   * remembered.
   */
  examineSource(source: string): ExaminedSource | undefined {
    if (this.lastExaminedSource?.raw === source) return this.lastExaminedSource.result;
    let result: ExaminedSource | undefined;
    const lowered = source.toLowerCase();
    if (isNodeId(lowered)) {
      // A bare id says nothing about the network it came from; callers should pass the peer's address.
      result = { source: lowered, sourceGroup: `id:${lowered}`, sourceNodeId: lowered };
    } else {
      const form = parseCanonical(source);
      if (form !== undefined) {
        const sourceAddress = form.address;
        result = {
          source: formatAddress(sourceAddress),
          sourceGroup: form.classification.group,
          sourceNodeId: sourceAddress.nodeId ?? '',
          sourceHost: sourceAddress.host,
          hearsaySource: formatAddress({ ...sourceAddress, nodeId: undefined }),
        };
      }
    }
    this.lastExaminedSource = { raw: source, result };
    return result;
  }
}


/** A fresh book entry for an admitted candidate. */
export function newEntry(candidate: Candidate, nowMs: number): KnownAddress {
  // Every field spelled out in one order: one object shape for all entries (the book holds thousands).
  return {
    address: candidate.address,
    nodeId: candidate.nodeId,
    source: candidate.source,
    group: candidate.group,
    sourceGroup: candidate.sourceGroup,
    sourceNodeId: candidate.sourceNodeId,
    vouchedBy: '',
    corroboratedBy: '',
    attempts: 0,
    lastAttempt: 0,
    lastSuccess: 0,
    lastSeen: nowMs,
    lastRefusal: 0,
    lastClaimedInbound: 0,
    lastBanTime: 0,
    bucketType: 'new',
    buckets: [],
    index: -1,
    firstHandIndex: -1,
  };
}
