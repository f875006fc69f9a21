/**
 * `window.meshlinkDemo`: the demo page's small hook for tests and the console, and what it reports.
 */
import type { BurstResult } from '../agents/burst.js';
import type { TopologySnapshot } from '../agents/topology.js';
import type { Graph } from './graph-model.js';
import type { RateSample } from './traffic.js';

export interface DemoPeer {
  id: string;
  moniker: string;
  transport: string;
  direction: string;
}

export interface DemoChat {
  id: string;
  text: string;
  origin: string;
  name: string;
  /** Links it travelled; 0 for a message written in this tab. */
  hops: number;
  /** 'self' for a message written here, else the id of the peer it arrived from. */
  from: string;
  /** The transport of the link it arrived on; undefined for our own. */
  transport: string | undefined;
}

export interface MeshlinkDemo {
  state: 'starting' | 'running' | 'failed';
  error: string | undefined;
  nodeId: string | undefined;
  moniker: string | undefined;
  /** The relay's address, as the page dials it. */
  relay: string | undefined;
  relayId: string | undefined;
  /** The IndexedDB database holding this page's key and address book. */
  keyStore: string | undefined;
  peers(): DemoPeer[];
  /** What the graph shows (live and gone nodes, links between live ones). */
  graph(): Graph;
  topology(): TopologySnapshot | undefined;
  chat(): DemoChat[];
  /** Sends a chat message; returns its id. Throws before the node runs or for an empty or too long text. */
  sendChat(text: string): string;
  burst(count?: number): Promise<BurstResult>;
  /** The connection state as shown. */
  statusText(): string;
  traffic(): RateSample[];
}

declare global {
  interface Window {
    meshlinkDemo?: MeshlinkDemo;
  }
}
