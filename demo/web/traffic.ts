import type { ChannelStatus, PeerStatus } from '../../platforms/browser/index.js';
import { LruSet } from '../agents/lru-set.js';

/**
 * Counters and rates for the page's traffic panel. Totals are the Switch's own counters (per peer and
 * per channel, see `peer.status()`), plus what peers that have left had counted, so the totals only
 * grow. Once a second the page takes a sample: the rates since the last one. The plot shows the last
 * minute of samples.
 */

export interface Totals {
  sentMessages: number;
  receivedMessages: number;
  /** Bytes on the wire (framing and encryption included). */
  sentBytes: number;
  receivedBytes: number;
}

export interface ChannelTotals {
  id: number;
  name: string;
  sentMessages: number;
  receivedMessages: number;
  /** Message bytes (payload). */
  sentBytes: number;
  receivedBytes: number;
}

export interface RateSample {
  at: number;
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
}

/** Samples kept: one a second for the last minute. */
export const PLOT_SAMPLES = 60;
/** Channels tracked (an id is 0..255; a hostile peer cannot add any: unknown channels cost it the connection). */
const MAX_CHANNELS = 256;

function zero(): Totals {
  return { sentMessages: 0, receivedMessages: 0, sentBytes: 0, receivedBytes: 0 };
}

/** Connections that left, remembered to count each once (see TrafficMeter.retire). */
const RETIRED_KEYS_REMEMBERED = 1024;

export class TrafficMeter {
  private readonly retiredTotals = zero();
  private readonly retiredChannels = new Map<number, ChannelTotals>();
  /**
   * Connections already folded in, so one told twice counts once. Bounded: every connection that ever
   * left would otherwise stay here for the page's life, and peers with fresh keys can come and go
   * without end; a repeat comes right after the first telling.
   */
  private readonly retiredPeers = new LruSet<string>(RETIRED_KEYS_REMEMBERED);
  private readonly samples: RateSample[] = [];
  private last: { at: number; totals: Totals } | undefined;

  /** Folds in the final counters of a peer that left. `key` identifies that connection (id and connect time). */
  retire(key: string, status: PeerStatus): void {
    if (this.retiredPeers.has(key)) return;
    this.retiredPeers.add(key);
    addPeer(this.retiredTotals, status);
    addChannels(this.retiredChannels, status.channels);
  }

  totals(statuses: readonly PeerStatus[]): { all: Totals; channels: ChannelTotals[] } {
    const all = { ...this.retiredTotals };
    const channels = new Map([...this.retiredChannels].map(([id, channel]) => [id, { ...channel }]));
    for (const status of statuses) {
      addPeer(all, status);
      addChannels(channels, status.channels);
    }
    return { all, channels: [...channels.values()].sort((a, b) => a.id - b.id) };
  }

  /** Records the rates since the previous sample. */
  sample(statuses: readonly PeerStatus[], now: number): RateSample {
    const { all } = this.totals(statuses);
    const previous = this.last;
    this.last = { at: now, totals: all };
    const seconds = previous === undefined ? 1 : Math.max(0.001, (now - previous.at) / 1000);
    const rate = (key: keyof Totals): number => (previous === undefined ? 0 : Math.max(0, (all[key] - previous.totals[key]) / seconds));
    const sample: RateSample = {
      at: now,
      messagesIn: rate('receivedMessages'),
      messagesOut: rate('sentMessages'),
      bytesIn: rate('receivedBytes'),
      bytesOut: rate('sentBytes'),
    };
    this.samples.push(sample);
    if (this.samples.length > PLOT_SAMPLES) this.samples.shift();
    return sample;
  }

  history(): RateSample[] {
    return this.samples.map((sample) => ({ ...sample }));
  }
}

function addPeer(into: Totals, status: PeerStatus): void {
  into.sentBytes += status.sentBytes;
  into.receivedBytes += status.receivedBytes;
  for (const channel of status.channels) {
    into.sentMessages += channel.sentMessages;
    into.receivedMessages += channel.receivedMessages;
  }
}

function addChannels(into: Map<number, ChannelTotals>, channels: readonly ChannelStatus[]): void {
  for (const channel of channels) {
    let totals = into.get(channel.id);
    if (totals === undefined) {
      if (into.size >= MAX_CHANNELS) continue;
      totals = { id: channel.id, name: channel.name, sentMessages: 0, receivedMessages: 0, sentBytes: 0, receivedBytes: 0 };
      into.set(channel.id, totals);
    }
    totals.sentMessages += channel.sentMessages;
    totals.receivedMessages += channel.receivedMessages;
    totals.sentBytes += channel.sentBytes;
    totals.receivedBytes += channel.receivedBytes;
  }
}

/** "1.2 kB", "3.4 MB": decimal units, as the plot's axis. */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${Math.round(bytes)} B`;
  if (bytes < 1e6) return `${(bytes / 1e3).toFixed(1)} kB`;
  if (bytes < 1e9) return `${(bytes / 1e6).toFixed(1)} MB`;
  return `${(bytes / 1e9).toFixed(2)} GB`;
}

export function formatCount(n: number): string {
  return n < 10 && !Number.isInteger(n) ? n.toFixed(1) : String(Math.round(n));
}

const SVG_NS = 'http://www.w3.org/2000/svg';
const PLOT_WIDTH = 320;
const PLOT_HEIGHT = 110;
const LEFT = 52;
const RIGHT = PLOT_WIDTH - 6;
const TOP = 8;
const BOTTOM = PLOT_HEIGHT - 20;

/**
 * Draws one rate plot (received: solid, sent: dashed) into `svg`, over the last minute. The y axis
 * starts at 0 and ends at the largest value shown; `format` writes the axis labels.
 */
export function renderPlot(svg: SVGSVGElement, samples: readonly RateSample[], pick: (sample: RateSample) => [number, number], format: (n: number) => string): void {
  svg.setAttribute('viewBox', `0 0 ${PLOT_WIDTH} ${PLOT_HEIGHT}`);
  const values = samples.map(pick);
  const max = Math.max(1, ...values.flat());
  const x = (i: number): number => RIGHT - ((values.length - 1 - i) * (RIGHT - LEFT)) / (PLOT_SAMPLES - 1);
  const y = (v: number): number => BOTTOM - (v / max) * (BOTTOM - TOP);
  const points = (which: 0 | 1): string => values.map((pair, i) => `${x(i).toFixed(1)},${y(pair[which]).toFixed(1)}`).join(' ');
  const make = (name: string, attributes: Record<string, string | number>, text?: string): SVGElement => {
    const node = document.createElementNS(SVG_NS, name);
    for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
    if (text !== undefined) node.textContent = text;
    return node;
  };
  svg.replaceChildren(
    make('line', { x1: LEFT, y1: BOTTOM, x2: RIGHT, y2: BOTTOM, class: 'axis' }),
    make('line', { x1: LEFT, y1: TOP, x2: LEFT, y2: BOTTOM, class: 'axis' }),
    make('text', { x: LEFT - 4, y: TOP + 8, 'text-anchor': 'end', class: 'tick' }, format(max)),
    make('text', { x: LEFT - 4, y: BOTTOM, 'text-anchor': 'end', class: 'tick' }, '0'),
    make('text', { x: LEFT, y: PLOT_HEIGHT - 4, class: 'tick' }, '60 s ago'),
    make('text', { x: RIGHT, y: PLOT_HEIGHT - 4, 'text-anchor': 'end', class: 'tick' }, 'now'),
    make('polyline', { points: points(1), class: 'series out' }),
    make('polyline', { points: points(0), class: 'series in' }),
  );
}
