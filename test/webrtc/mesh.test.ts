import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createNode, MemoryStorage, PEX_AGENT_NAME, type PEXAgent, type Switch } from '../../platforms/node/index.js';
import { RecordingAgent } from '../helpers/nodes.js';
import { waitFor } from '../helpers/wait.js';

const APP = 0x40;
const FAST_PEX = { allowLocal: true, ensurePeersIntervalMs: 300, dialJitterMs: 50, dialBackoffBaseMs: 200 } as const;
const running: Switch[] = [];
const homes: string[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((sw) => sw.stop()));
  for (const home of homes.splice(0)) rmSync(home, { recursive: true, force: true });
});

async function relay(port = 0): Promise<Switch> {
  const sw = await createNode({
    storage: new MemoryStorage(),
    network: 'mesh-test',
    listen: [`tcp://127.0.0.1:${port}`],
    relay: true,
    pex: FAST_PEX,
  });
  await sw.start();
  running.push(sw);
  return sw;
}

async function rtcNode(relayAddress: string): Promise<{ sw: Switch; agent: RecordingAgent }> {
  const agent = new RecordingAgent([{ id: APP, priority: 1 }]);
  const home = mkdtempSync(join(tmpdir(), 'meshlink-mesh-'));
  homes.push(home);
  const sw = await createNode({
    home,
    network: 'mesh-test',
    webrtc: true,
    persistentPeers: [relayAddress],
    reconnect: { baseDelayMs: 100, maxDelayMs: 500 },
    pex: { ...FAST_PEX, seeds: [relayAddress] },
  });
  sw.addAgent('app', agent);
  await sw.start();
  running.push(sw);
  return { sw, agent };
}

describe('a WebRTC mesh found through a relay (Node peers with @roamhq/wrtc)', () => {
  it('learns webrtc://…?via=<relay> by PEX, links directly, and keeps talking after the relay stops', async () => {
    const hub = await relay();
    const a = await rtcNode(hub.addresses[0]!);
    const b = await rtcNode(hub.addresses[0]!);
    const direct = (from: Switch, to: Switch): boolean => from.getPeer(to.nodeId)?.transport === 'webrtc';
    await waitFor(() => direct(a.sw, b.sw) && direct(b.sw, a.sw), 15_000, 'a direct WebRTC link between a and b');
    expect(a.sw.getPeer(b.sw.nodeId)!.address).toBe(`webrtc://${b.sw.nodeId}?via=${hub.nodeId}`);

    await hub.stop();
    await waitFor(() => a.sw.getPeer(hub.nodeId) === undefined, 5000, 'the relay to be gone');
    for (let i = 0; i < 20; i++) expect(await a.sw.getPeer(b.sw.nodeId)!.send(APP, Uint8Array.of(i))).toBe(true);
    await waitFor(() => b.agent.messages.length === 20, 5000, 'messages over the direct link');
    expect(b.agent.messages.map((m) => m.message[0])).toEqual([...Array(20).keys()]);
    expect(b.agent.messages.every((m) => m.peer.transport === 'webrtc')).toBe(true);
  });

  it('hands out a webrtc address only while its node is connected to the relay named in via', async () => {
    const hub = await relay();
    const a = await rtcNode(hub.addresses[0]!);
    await waitFor(() => hub.getPeer(a.sw.nodeId) !== undefined, 5000, 'a on the relay');
    const relayed = `webrtc://${a.sw.nodeId}?via=${hub.nodeId}`;
    const asker = async (): Promise<PEXAgent> => {
      const sw = await createNode({ storage: new MemoryStorage(), network: 'mesh-test', pex: { ...FAST_PEX, seeds: [hub.addresses[0]!] } });
      await sw.start();
      running.push(sw);
      const pex = sw.getAgent<PEXAgent>(PEX_AGENT_NAME)!;
      await waitFor(() => pex.stats().responsesReceived > 0, 5000, 'a PEX answer from the relay');
      return pex;
    };
    expect((await asker()).book.get(relayed)).toBeDefined();
    await a.sw.stop();
    await waitFor(() => hub.getPeer(a.sw.nodeId) === undefined, 5000, 'a to leave the relay');
    expect((await asker()).book.get(relayed)).toBeUndefined();
  });

  it('hands out only peers that dialled the relay (a node takes relayed signals only from peers it dialled)', async () => {
    const hub = await relay();
    const dialledIn = await rtcNode(hub.addresses[0]!);
    const dialledOut = await createNode({ storage: new MemoryStorage(), network: 'mesh-test', webrtc: true, listen: ['tcp://127.0.0.1:0'] });
    await dialledOut.start();
    running.push(dialledOut);
    await hub.dial(dialledOut.addresses.find((a) => a.startsWith('tcp://'))!);
    await waitFor(() => hub.getPeer(dialledIn.sw.nodeId) !== undefined, 5000, 'the inbound peer on the relay');
    const sw = await createNode({ storage: new MemoryStorage(), network: 'mesh-test', pex: { ...FAST_PEX, seeds: [hub.addresses[0]!] } });
    await sw.start();
    running.push(sw);
    const pex = sw.getAgent<PEXAgent>(PEX_AGENT_NAME)!;
    await waitFor(() => pex.stats().responsesReceived > 0, 5000, 'a PEX answer from the relay');
    expect(pex.book.get(`webrtc://${dialledIn.sw.nodeId}?via=${hub.nodeId}`)).toBeDefined();
    expect(pex.book.get(`webrtc://${dialledOut.nodeId}?via=${hub.nodeId}`)).toBeUndefined();
  });
});
