import { expect, test } from '@playwright/test';
import {
  APP_CHANNELS,
  closePages,
  killChildren,
  MeshPage,
  pageOrigin,
  Relay,
  reportDiagnostics,
  startFixture,
  unique,
  WAIT_MS,
  type JsonChild,
} from './mesh-harness.js';

// Issue "Browser peer mesh": a Chromium page and a Node peer (createNode({ webrtc: true }) over
// @roamhq/wrtc, e2e/fixtures/node-peer.ts) connect over WebRTC, signalling through a `meshlink node`
// relay, and exchange messages both ways. Both directions of the offer are tried: the page dials the
// Node peer (Chromium offers, wrtc answers), then the Node peer dials the page (wrtc offers).
// PEX is off on both: discovery is mesh.spec.ts's subject; this one is browser↔Node interop.

const ORIGIN = pageOrigin(47_302);
const NETWORK = 'mesh-node-e2e';
const [CH_A, CH_B] = APP_CHANNELS;

test.afterEach(async ({}, testInfo) => {
  if (testInfo.status !== testInfo.expectedStatus) await reportDiagnostics(testInfo);
  await closePages();
  await killChildren();
});

/** Sends through the Node fixture and waits for its answer. */
async function nodeSend(node: JsonChild, channel: number, peer: string, text: string): Promise<boolean> {
  const from = node.lines.length;
  node.send({ cmd: 'send', channel, peer, text });
  return (await node.waitLine((line) => line['event'] === 'sent' && line['text'] === text, WAIT_MS, from))['ok'] as boolean;
}

function nodeReceived(node: JsonChild, from: string, channel: number): string[] {
  return node.lines.filter((line) => line['event'] === 'message' && line['from'] === from && line['channel'] === channel).map((line) => line['text'] as string);
}

test('a page and a Node peer (wrtc) connect over WebRTC through the relay, either one offering, and exchange messages both ways', async ({ browser }) => {
  test.setTimeout(45_000);
  const relay = await Relay.start({ moniker: 'relay1', network: NETWORK });
  const [node, page] = await Promise.all([
    startFixture('node-peer', ['e2e/fixtures/node-peer.ts', '--relay', relay.tcpAddress, '--network', NETWORK, '--channels', APP_CHANNELS.join(',')]),
    MeshPage.open(browser, ORIGIN, { network: NETWORK, db: 'n1', pex: false, persistentPeers: [relay.wsAddress] }),
  ]);
  await page.waitPeer(relay.nodeId, 'ws');
  await node.child.waitLine((line) => line['event'] === 'peer:connected' && line['peer'] === relay.nodeId);

  const exchange = async (round: string): Promise<void> => {
    const toNode = [unique(`${round} page→node A`), unique(`${round} page→node B`)] as const;
    const toPage = [unique(`${round} node→page A`), unique(`${round} node→page B`)] as const;
    expect(await page.send(CH_A, node.nodeId, toNode[0])).toBe(true);
    expect(await page.send(CH_B, node.nodeId, toNode[1])).toBe(true);
    expect(await nodeSend(node.child, CH_A, page.nodeId, toPage[0])).toBe(true);
    expect(await nodeSend(node.child, CH_B, page.nodeId, toPage[1])).toBe(true);
    await expect.poll(() => [...nodeReceived(node.child, page.nodeId, CH_A), ...nodeReceived(node.child, page.nodeId, CH_B)], { timeout: WAIT_MS }).toEqual(
      expect.arrayContaining([...toNode]),
    );
    await expect
      .poll(async () => (await page.received()).filter((m) => m.from === node.nodeId).map((m) => [m.channel, m.text, m.transport]), { timeout: WAIT_MS })
      .toEqual(expect.arrayContaining([[CH_A, toPage[0], 'webrtc'], [CH_B, toPage[1], 'webrtc']]));
    // Each exactly once, on its channel, over WebRTC, both ways.
    const atNode = node.child.lines.filter((line) => line['event'] === 'message' && toNode.includes(line['text'] as never));
    expect(atNode.map((line) => [line['channel'], line['text'], line['transport']]).sort()).toEqual([
      [CH_A, toNode[0], 'webrtc'],
      [CH_B, toNode[1], 'webrtc'],
    ]);
    const atPage = (await page.received()).filter((m) => toPage.includes(m.text as never));
    expect(atPage.map((m) => [m.channel, m.text, m.transport]).sort()).toEqual([
      [CH_A, toPage[0], 'webrtc'],
      [CH_B, toPage[1], 'webrtc'],
    ]);
  };

  // 1. The page offers.
  const dialed = await page.dial(`webrtc://${node.nodeId}?via=${relay.nodeId}`);
  console.log(`mesh-node: page → Node dial ${JSON.stringify(dialed)}`);
  expect(dialed).toMatchObject({ ok: true, id: node.nodeId, transport: 'webrtc' });
  await node.child.waitLine((line) => line['event'] === 'peer:connected' && line['peer'] === page.nodeId && line['transport'] === 'webrtc');
  await exchange('page offers');
  expect(await page.rtcBalance()).toEqual({ open: 1, webrtcPeers: 1 });

  // 2. The Node peer hangs up, then offers.
  const from = node.child.lines.length;
  node.child.send({ cmd: 'disconnect', peer: page.nodeId });
  await page.waitNoPeer(node.nodeId, 10_000);
  await expect.poll(() => page.rtcBalance(), { timeout: WAIT_MS }).toEqual({ open: 0, webrtcPeers: 0 });
  node.child.send({ cmd: 'dial', address: `webrtc://${page.nodeId}?via=${relay.nodeId}` });
  const back = await node.child.waitLine((line) => line['event'] === 'dialed', WAIT_MS, from);
  console.log(`mesh-node: Node → page dial ${JSON.stringify(back)}`);
  expect(back).toMatchObject({ ok: true, id: page.nodeId, transport: 'webrtc' });
  await page.waitPeer(node.nodeId, 'webrtc');
  await exchange('node offers');
  expect(await page.rtcBalance()).toEqual({ open: 1, webrtcPeers: 1 });
});
