/**
 * The decoder sweep's stored-bytes row: an address book grown from what peers said must reload whole.
 * Over real TCP, a liar answers a createNode's PEX requests with addresses that are valid but as odd as
 * a peer may make them (a 1,023-character path, 400 two-byte characters, 120 query parameters, keys
 * named __proto__ and constructor, escaped NUL and lone-surrogate bytes, an IDN, IPv6, webrtc via, upper
 * case ids), and claims a ws address with two- and four-byte characters in its path in its NodeInfo
 * (one with a lone surrogate is dropped there: test/switch/node-info.test.ts). The node stops (its book
 * saved in its home by FileStorage), starts again from the same home, and must hold the same entries,
 * with no warning and nothing skipped.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { createNode, PEX_AGENT_NAME, tcpTransport, type Switch } from '../../platforms/node/index.js';
import type { PEXAgent } from '../../src/pex/pex-agent.js';
import { waitFor } from '../helpers/wait.js';
import { nodeId, publicHost } from '../pex/address-book-helpers.js';
import { FAST_PEX, RogueAgent, response, startPexNode, stopPexNodes } from '../pex/pex-helpers.js';
import { guardProcessFaults } from './raw-peer.js';

guardProcessFaults();

let home: string | undefined;
const started: Switch[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((sw) => sw.stop()));
  await stopPexNodes();
  if (home !== undefined) await rm(home, { recursive: true, force: true });
  home = undefined;
});

const ODD_ADDRESSES = [
  `ws://${nodeId(1)}@${publicHost(1)}:80/${'a'.repeat(1023 - `ws://${nodeId(1)}@${publicHost(1)}:80/`.length)}`,
  `ws://${nodeId(2)}@${publicHost(2)}:80/${'é'.repeat(400)}`,
  `wss://${nodeId(3)}@example.com:443/p?${Array.from({ length: 120 }, (_, i) => `k${i}=v`).join('&')}`,
  `ws://${nodeId(4)}@${publicHost(4)}:80/p?__proto__=x&constructor=y&prototype=z`,
  `ws://${nodeId(5)}@${publicHost(5)}:80/__proto__/constructor`,
  `ws://${nodeId(6)}@${publicHost(6)}:80/%00`,
  `ws://${nodeId(7)}@${publicHost(7)}:80/%ED%A0%80`,
  `tcp://${nodeId(8)}@xn--ls8h.example:26656`,
  `tcp://${nodeId(9)}@[2606:4700::9]:26656`,
  `tcp://${nodeId(0xabc).toUpperCase()}@${publicHost(10)}:26656`,
  `webrtc://${nodeId(11)}?via=${nodeId(12)}`,
];

async function startVictim(at: string, warnings: string[]): Promise<{ sw: Switch; pex: PEXAgent }> {
  const sw = await createNode({
    home: at,
    network: 'pex-test',
    listen: ['tcp://127.0.0.1:0'],
    // Loopback peers (the liar) are dialled, but its addresses are public ones nobody here dials.
    pex: { ...FAST_PEX, allowLocal: false, onWarning: (message) => void warnings.push(message) },
    relay: true,
    maxOutbound: 1,
  });
  started.push(sw);
  await sw.start();
  return { sw, pex: sw.getAgent<PEXAgent>(PEX_AGENT_NAME)! };
}

it('a book grown from odd but valid peer addresses reloads whole from its file', async () => {
  home = await mkdtemp(join(tmpdir(), 'meshlink-book-sweep-'));
  const liarKey = (await import('../../src/crypto/keys.js')).generateNodeKey();
  const claimed = `ws://${liarKey.nodeId}@${publicHost(30)}:80/\u00e9\u{1F600}`;
  const liar = await startPexNode({
    identity: liarKey,
    transports: [tcpTransport()],
    listen: 'tcp://127.0.0.1:0',
    pex: false,
    agents: { rogue: new RogueAgent(() => [response(ODD_ADDRESSES)]) },
    switchOptions: { externalAddresses: [claimed] },
  });
  const warnings: string[] = [];
  const first = await startVictim(home, warnings);
  await first.sw.dial(liar.address);
  const book = first.pex.book;
  // Each in its canonical form (unknown query parameters dropped); the reserved .example IDN is not kept.
  await waitFor(() => book.size() >= ODD_ADDRESSES.length, 5000, 'the odd addresses and the claim reach the book');
  const before = book.entries().map((entry) => entry.address).sort();
  expect(before.some((address) => address.startsWith(`ws://${liarKey.nodeId}@`)), 'the NodeInfo claim').toBe(true);
  await first.sw.stop();

  const second = await startVictim(home, warnings);
  const after = second.pex.book.entries().map((entry) => entry.address).sort();
  expect(after).toEqual(before);
  expect(warnings, 'no load warning, nothing skipped').toEqual([]);
  expect(({} as Record<string, unknown>)['x'], 'Object.prototype untouched').toBeUndefined();
});
