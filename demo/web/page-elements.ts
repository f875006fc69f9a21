/** The demo page's elements (demo/web/index.html), looked up once; a missing one stops the page at load. */

const $ = <T extends Element = HTMLElement>(id: string): T => {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`#${id} is missing from the page`);
  return element as unknown as T;
};

export const ui = {
  error: $('error'),
  moniker: $('moniker'),
  nodeId: $('node-id'),
  relay: $('relay'),
  relayName: $('relay-name'),
  status: $('status'),
  graph: $<SVGSVGElement>('graph'),
  graphSummary: $('graph-summary'),
  chatLog: $<HTMLOListElement>('chat-log'),
  chatForm: $<HTMLFormElement>('chat-form'),
  chatInput: $<HTMLInputElement>('chat-input'),
  chatSend: $<HTMLButtonElement>('chat-send'),
  chatFeedback: $('chat-feedback'),
  plotMessages: $<SVGSVGElement>('plot-messages'),
  plotMessagesCaption: $('plot-messages-caption'),
  plotBytes: $<SVGSVGElement>('plot-bytes'),
  plotBytesCaption: $('plot-bytes-caption'),
  burst: $<HTMLButtonElement>('burst'),
  burstFeedback: $('burst-feedback'),
  peerRows: $<HTMLTableElement>('peer-table').tBodies[0]!,
  channelRows: $<HTMLTableElement>('channel-table').tBodies[0]!,
};
