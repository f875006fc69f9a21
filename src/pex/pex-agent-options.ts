import type { MeshlinkError } from '../errors.js';
import type { Storage } from '../storage/storage.js';
import type { Peer } from '../switch/peer.js';
import type { Clock } from '../util/clock.js';
import type { AddressBook, AddressBookOptions } from './address-book.js';
import type { PexConfig } from './config.js';

/** What a PEXAgent is given, what it reports and what it counts: the agent's public shapes. */

export interface PexAgentOptions extends Partial<PexConfig> {
  /** The book to use. @default a new AddressBook (with `storage`, `allowLocal`, `bookOptions`) */
  book?: AddressBook;
  /** Where a book the agent creates is loaded from at start and saved to (periodically and at stop). */
  storage?: Storage;
  /** Load at start, auto-save, save at stop. @default true when `storage` is given */
  persist?: boolean;
  /** Accept loopback, private and memory:// addresses (tests, LANs). @default false */
  allowLocal?: boolean;
  /** Geometry and thresholds for a book the agent creates. */
  bookOptions?: Omit<AddressBookOptions, 'storage' | 'allowLocal' | 'now' | 'random' | 'clock'>;
  /** @default Math.random */
  random?: () => number;
  /** Time readings only (timers use `clock`), request pacing included. @default the clock's now (pacing: its monotonicNow) */
  now?: () => number;
  /** Runs the PEX rounds, dial jitter, seed-mode disconnects, feelers and the book's auto-save. @default the Switch's clock */
  clock?: Clock;
  /** Book load warnings and auto-save failures. */
  onWarning?: (message: string) => void;
  /**
   * We relay WebRTC signalling: hand out `webrtc://<peer>?via=<us>` for the connected peers that
   * accept WebRTC (their NodeInfo lists `webrtc://<their id>`), so pages that know only us can reach
   * each other directly. Those addresses are made from live connections at each answer, never from the
   * book, so a page's address is handed out only while it is connected to the relay its `via` names.
   * @default false
   */
  relayWebRtc?: boolean;
}

/** The options of the book a PEXAgent makes for the node `ourNodeId` when none was given. */
export function agentBookOptions(options: PexAgentOptions, ourNodeId: string, time: Pick<AddressBookOptions, 'now' | 'clock' | 'random'>): AddressBookOptions {
  return {
    ...options.bookOptions,
    ourNodeId,
    allowLocal: options.allowLocal ?? false,
    ...(options.storage !== undefined ? { storage: options.storage } : {}),
    ...time,
    ...(options.onWarning !== undefined ? { onWarning: options.onWarning } : {}),
  };
}

export interface PexAgentEvents extends Record<string, unknown> {
  /** A peer broke a PEX rule; it has been stopped with `error` and banned for banMs. */
  misbehaviour: { peer: Peer; error: MeshlinkError };
  /** A response was accepted: how many addresses it had and how many were new to the book. */
  addresses: { peer: Peer; received: number; added: number };
}

export interface PexStats {
  requestsSent: number;
  requestsReceived: number;
  responsesSent: number;
  responsesReceived: number;
  addressesReceived: number;
  addressesAdded: number;
  dials: number;
  dialFailures: number;
  seedDials: number;
  misbehaviours: number;
  /** Feeler connections that came up (each moved its address to the tried table or tested an incumbent). */
  feelers: number;
  /** Anchors dialled at start. */
  anchorDials: number;
}

export function newPexStats(): PexStats {
  return {
    requestsSent: 0,
    requestsReceived: 0,
    responsesSent: 0,
    responsesReceived: 0,
    addressesReceived: 0,
    addressesAdded: 0,
    dials: 0,
    dialFailures: 0,
    seedDials: 0,
    misbehaviours: 0,
    feelers: 0,
    anchorDials: 0,
  };
}
