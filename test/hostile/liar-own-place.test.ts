/**
 * A liar naming made-up node ids at our own place, spelled so that the book did not see it as ours:
 * our listen address as IPv4-mapped IPv6, or an external address (a NAT mapping) added after start.
 * Kept, such an address has us dial ourselves and hand our own place out under made-up ids. Over TCP.
 */
import { describe, expect, it } from 'vitest';
import { tcpTransport } from '../../platforms/node/tcp.js';
import { waitFor } from '../helpers/wait.js';
import { nodeId } from '../pex/address-book-helpers.js';
import { RogueAgent, response, startPexNode } from '../pex/pex-helpers.js';
import { cleanUpAfterEach, silentListener } from './liar-helpers.js';
import { guardProcessFaults, tcpPort } from './raw-peer.js';

guardProcessFaults();

const track = cleanUpAfterEach();

describe('made-up ids at our own place', () => {
  it('are refused as ours, whichever way the place is spelled and whenever it became ours', async () => {
    // The "external" port a NAT would forward to us: a silent listener on 127.0.0.1, ours from now on.
    const mapped = track(await silentListener());
    const externalPort = mapped.port;

    let answer: string[] = [];
    const liar = await startPexNode({ transports: [tcpTransport()], listen: 'tcp://127.0.0.1:0', pex: false, agents: { rogue: new RogueAgent(() => [response(answer)]) } });
    const us = await startPexNode({ transports: [tcpTransport()], listen: 'tcp://127.0.0.1:0', pex: { feelerIntervalMs: 0 } });
    us.sw.addExternalAddress(`tcp://127.0.0.1:${externalPort}`);
    const port = tcpPort(us.address);
    const respelt = `tcp://${nodeId(0xabc1)}@[::ffff:127.0.0.1]:${port}`;
    const external = `tcp://${nodeId(0xabc2)}@127.0.0.1:${externalPort}`;
    answer = [respelt, external];
    const misbehaviours: string[] = [];
    us.pex!.on('misbehaviour', ({ error }) => misbehaviours.push(error.code));

    await us.sw.dial(liar.address);
    await waitFor(() => us.pex!.stats().responsesReceived >= 1, 3000, 'the liar answered');
    // Before: both kept (the book took them for other nodes' places), then dialled.
    expect(us.pex!.book.has(respelt)).toBe(false);
    expect(us.pex!.book.has(external)).toBe(false);
    // Not punished: an honest peer may know our place under an id it was told.
    expect(misbehaviours).toEqual([]);
    expect(mapped.held).toEqual([]);
  });
});
