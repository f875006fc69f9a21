import { expect, test } from '@playwright/test';
import { startNginx, type Nginx } from '../test/helpers/nginx.js';
import { APP_CHANNELS, closePages, killChildren, MeshPage, pageOrigin, Relay, reportDiagnostics, startFixture, unique, WAIT_MS } from './mesh-harness.js';

// The deployment a web app on https:// needs: the relay behind a TLS-terminating reverse proxy (Debian's
// nginx with a certificate made for the test; the context accepts it as a browser would accept a real
// one), the page dialling `wss://`. The relay trusts the proxy (`--trusted-proxy`), so it knows the page
// by its own address, not nginx's. Over that link the page signals a WebRTC link to a Node peer and
// they exchange messages.

const ORIGIN = pageOrigin(47_303);
const NETWORK = 'wss-proxy-e2e';
const [CH_A] = APP_CHANNELS;

let proxy: Nginx | undefined;
test.afterEach(async ({}, testInfo) => {
  if (testInfo.status !== testInfo.expectedStatus) await reportDiagnostics(testInfo);
  await closePages();
  await killChildren();
  await proxy?.stop();
  proxy = undefined;
});

test('a page reaches a relay through nginx over wss://, is known by its own address, and signals a WebRTC link over it', async ({ browser }) => {
  test.setTimeout(45_000);
  const relay = await Relay.start({ moniker: 'tls-relay', network: NETWORK, extraArgs: ['--trusted-proxy', '127.0.0.1'] });
  proxy = await startNginx(Number(/:(\d+)\/?$/.exec(relay.wsAddress)![1]), { tls: true });
  const wssAddress = `wss://${relay.nodeId}@127.0.0.1:${proxy.port}/`;
  const [node, page] = await Promise.all([
    startFixture('node-peer', ['e2e/fixtures/node-peer.ts', '--relay', relay.tcpAddress, '--network', NETWORK, '--channels', APP_CHANNELS.join(',')]),
    MeshPage.open(browser, ORIGIN, { network: NETWORK, db: 'wss', pex: false, persistentPeers: [wssAddress] }, { ignoreHTTPSErrors: true }),
  ]);
  await page.waitPeer(relay.nodeId, 'ws');
  // The relay forwards signals only between its peers: the Node peer must have joined it too.
  await node.child.waitLine((line) => line['event'] === 'peer:connected' && line['peer'] === relay.nodeId);
  const pageAtRelay = await relay.child.waitLine((line) => line['event'] === 'peer:connected' && line['peer'] === page.nodeId);
  // nginx appended the page's address (127.0.0.1) with no port; without trust it would be nginx's socket (a port of its own).
  expect(pageAtRelay['address']).toBe('127.0.0.1:0');

  const dialed = await page.dial(`webrtc://${node.nodeId}?via=${relay.nodeId}`);
  expect(dialed).toMatchObject({ ok: true, id: node.nodeId, transport: 'webrtc' });
  const text = unique('over a link signalled through wss');
  expect(await page.send(CH_A, node.nodeId, text)).toBe(true);
  const arrived = await node.child.waitLine((line) => line['event'] === 'message' && line['text'] === text, WAIT_MS);
  expect(arrived).toMatchObject({ channel: CH_A, from: page.nodeId, transport: 'webrtc' });
});
