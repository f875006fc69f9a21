import { expect, test } from '@playwright/test';
import { startSilenceableProxy } from '../test/helpers/silenceable-proxy.js';
import { closePages, killChildren, MeshPage, pageOrigin, Relay, reportDiagnostics } from './mesh-harness.js';

// A page's network changes (Wi-Fi to cellular, a laptop waking up, a NAT dropping its mapping): the page
// sees its WebSocket to the relay end, the relay does not and holds the old connection until its
// keep-alive notices (up to 105 s by default). The page redials at once; the relay pings the old
// connection, hears nothing, cuts it and takes the new one. Before, the relay refused every redial as a
// duplicate (ERR_DUPLICATE_PEER) until its keep-alive cut the old connection.

const ORIGIN = pageOrigin(47_311);
const NETWORK = 'silent-link-e2e';

let proxy: { close: () => void } | undefined;
test.afterEach(async ({}, testInfo) => {
  if (testInfo.status !== testInfo.expectedStatus) await reportDiagnostics(testInfo);
  await closePages();
  await killChildren();
  proxy?.close();
  proxy = undefined;
});

test('a page whose link went silent on the relay side is back with the relay within seconds', async ({ browser }) => {
  test.setTimeout(60_000);
  const relay = await Relay.start({ moniker: 'silent-link-relay', network: NETWORK });
  const silenceable = await startSilenceableProxy(Number(/:(\d+)\/?$/.exec(relay.wsAddress)![1]));
  proxy = silenceable;
  const page = await MeshPage.open(browser, ORIGIN, {
    network: NETWORK,
    db: 'silent-link',
    pex: false,
    persistentPeers: [`ws://${relay.nodeId}@127.0.0.1:${silenceable.port}/`],
  });
  await page.waitPeer(relay.nodeId, 'ws');
  await relay.child.waitLine((line) => line['event'] === 'peer:connected' && line['peer'] === page.nodeId);

  silenceable.silence();
  await page.waitNoPeer(relay.nodeId);
  const silencedAt = Date.now();
  await page.waitPeer(relay.nodeId, 'ws', 12_000);
  const backAfterMs = Date.now() - silencedAt;
  const cut = await relay.child.waitLine((line) => line['event'] === 'peer:disconnected' && line['peer'] === page.nodeId, 1_000);
  expect(cut['reason']).toMatchObject({ code: 'ERR_PONG_TIMEOUT' });
  expect(relay.events('peer:connected').filter((line) => line['peer'] === page.nodeId)).toHaveLength(2);
  console.log(`silent link: the page was back with the relay ${backAfterMs} ms after its link went silent`);
});
