/**
 * The demo page's rendering: status line, graph, traffic plots and tables, chat list, error banner.
 * It draws what it is given; the node wiring (app.ts) decides what and when.
 */
import type { Peer, PeerStatus } from '../../platforms/browser/index.js';
import type { Graph } from './graph-model.js';
import { describeGraph, GraphView } from './graph-view.js';
import { label } from './names.js';
import type { DemoChat } from './page-hook.js';
import { ui } from './page-elements.js';
import { describeConnection, type ConnectionState } from './status-text.js';
import { formatBytes, formatCount, renderPlot, type ChannelTotals, type RateSample } from './traffic.js';

/** Chat messages kept for the list and the hook. */
export const MAX_SHOWN_CHAT = 500;

const graphView = new GraphView(ui.graph);

export function showError(sentence: string): void {
  ui.error.textContent = sentence;
  ui.error.hidden = false;
}

/** The connection state as shown. */
export function statusText(): string {
  return ui.status.textContent ?? '';
}

/** `relayMoniker`: the relay's name once it is connected and has told it. */
export function renderStatus(state: ConnectionState, relayMoniker: string | undefined): void {
  ui.status.textContent = describeConnection(state);
  ui.status.dataset['state'] = state.phase !== 'running' ? state.phase : state.relayConnected ? 'connected' : 'degraded';
  if (relayMoniker !== undefined && relayMoniker !== '') ui.relayName.textContent = relayMoniker;
}

export function renderGraph(graph: Graph): void {
  graphView.render(graph);
  ui.graphSummary.textContent = describeGraph(graph);
}

export function showIdentity(nodeId: string, moniker: string): void {
  ui.nodeId.textContent = nodeId;
  ui.moniker.textContent = moniker;
  document.title = `meshlink · ${moniker}`;
}

export function showRelay(relay: string): void {
  ui.relay.textContent = relay;
}

function cell(text: string, header = false): HTMLTableCellElement {
  const element = document.createElement(header ? 'th' : 'td');
  if (header) element.scope = 'row';
  element.textContent = text;
  return element;
}

export interface TrafficView {
  sample: RateSample;
  history: RateSample[];
  statuses: PeerStatus[];
  channels: ChannelTotals[];
  relayId: string | undefined;
}

export function renderTraffic({ sample, history, statuses, channels, relayId }: TrafficView): void {
  renderPlot(ui.plotMessages, history, (s) => [s.messagesIn, s.messagesOut], formatCount);
  renderPlot(ui.plotBytes, history, (s) => [s.bytesIn, s.bytesOut], formatBytes);
  ui.plotMessagesCaption.textContent = `Messages per second, last minute: now ${formatCount(sample.messagesIn)} received (solid), ${formatCount(sample.messagesOut)} sent (dashed).`;
  ui.plotBytesCaption.textContent = `Bytes per second, last minute: now ${formatBytes(sample.bytesIn)}/s received (solid), ${formatBytes(sample.bytesOut)}/s sent (dashed).`;

  ui.peerRows.replaceChildren(
    ...statuses.map((status) => {
      const row = document.createElement('tr');
      const sent = status.channels.reduce((n, channel) => n + channel.sentMessages, 0);
      const received = status.channels.reduce((n, channel) => n + channel.receivedMessages, 0);
      const rtt = status.lastPingRttMs === undefined ? '–' : `${Math.round(status.lastPingRttMs)} ms`;
      row.append(
        cell(label(status.moniker, status.id) + (status.id === relayId ? ', the relay' : ''), true),
        cell(`${status.transport}, ${status.direction}`),
        cell(String(sent)),
        cell(formatBytes(status.sentBytes)),
        cell(String(received)),
        cell(formatBytes(status.receivedBytes)),
        cell(rtt),
      );
      return row;
    }),
  );
  if (statuses.length === 0) {
    const row = document.createElement('tr');
    const empty = cell('No peers connected.');
    empty.colSpan = 7;
    row.append(empty);
    ui.peerRows.replaceChildren(row);
  }
  ui.channelRows.replaceChildren(
    ...channels.map((channel) => {
      const row = document.createElement('tr');
      row.append(
        cell(`${channel.name === '' ? 'channel' : channel.name} (0x${channel.id.toString(16).padStart(2, '0')})`, true),
        cell(String(channel.sentMessages)),
        cell(formatBytes(channel.sentBytes)),
        cell(String(channel.receivedMessages)),
        cell(formatBytes(channel.receivedBytes)),
      );
      return row;
    }),
  );
}

/** Appends a chat message to the list; `from`: the peer it arrived from, undefined for our own. */
export function appendChat(entry: DemoChat, from: Peer | undefined): void {
  ui.chatLog.querySelector('.empty')?.remove();
  const item = document.createElement('li');
  item.dataset['id'] = entry.id;
  const meta = document.createElement('span');
  meta.className = 'meta';
  const author = document.createElement('span');
  author.className = 'author';
  // textContent, never innerHTML: names and texts are whatever a peer sent.
  author.textContent = entry.from === 'self' ? 'you' : label(entry.name, entry.origin);
  const route =
    from === undefined ? ' · written in this tab'
    : ` · ${entry.hops} hop${entry.hops === 1 ? '' : 's'}${entry.hops === 1 ? `, directly over ${from.transport}` : `, last one from ${label(from.nodeInfo.moniker, from.id)} over ${from.transport}`}`;
  meta.append(author, route);
  const text = document.createElement('span');
  text.className = 'text';
  text.textContent = entry.text;
  item.append(meta, text);
  ui.chatLog.append(item);
  while (ui.chatLog.childElementCount > MAX_SHOWN_CHAT) ui.chatLog.firstElementChild?.remove();
  ui.chatLog.scrollTop = ui.chatLog.scrollHeight;
}
