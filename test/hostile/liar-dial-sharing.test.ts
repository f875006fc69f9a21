/**
 * What the Switch keeps per node id against a liar: one dial per node id at a time, whatever the
 * address. A liar tells PEX a made-up address for a real node's id (a silent host); while that dial
 * hangs, the real address must still be dialled, not the made-up one's failure handed to its callers.
 * Over real TCP.
 */
import { describe, expect, it } from 'vitest';
import { tcpTransport } from '../../platforms/node/tcp.js';
import { waitFor } from '../helpers/wait.js';
import { RogueAgent, response, startPexNode } from '../pex/pex-helpers.js';
import { cleanUpAfterEach, silentListener, type SilentListener } from './liar-helpers.js';
import { guardProcessFaults } from './raw-peer.js';

guardProcessFaults();

const track = cleanUpAfterEach();
let silent: SilentListener | undefined;

/** A TCP port that accepts and then says nothing (what a liar's made-up address leads to). */
async function silentPort(): Promise<number> {
  silent = track(await silentListener());
  return silent.port;
}

describe('dials of one node id at two addresses', () => {
  it('a dial of the real address waits for the made-up address dial, then dials its own', async () => {
    const transports = [tcpTransport()];
    const real = await startPexNode({ transports, listen: 'tcp://127.0.0.1:0', pex: false });
    const us = await startPexNode({ transports: [tcpTransport()], listen: 'tcp://127.0.0.1:0', pex: false, switchOptions: { handshakeTimeoutMs: 800 } });
    const madeUp = `tcp://${real.sw.nodeId}@127.0.0.1:${await silentPort()}`;
    const failures: { address: string; code: string | undefined }[] = [];
    us.sw.on('dial:failed', ({ address, error }) => failures.push({ address, code: (error as { code?: string }).code }));

    // PEX dials the made-up address it was told; meanwhile the app (or a persistent redial) dials the real one.
    const hearsay = us.sw.dial(madeUp).then(
      () => 'connected',
      (error: { code?: string }) => error.code,
    );
    const peer = await us.sw.dial(real.address, { persistent: true });

    // Before: the real dial joined the made-up one and failed with its ERR_TIMEOUT (a silent host: the
    // whole handshake deadline), and the persistent peer's backoff grew with a dial:failed naming the
    // real address for it.
    expect(peer.id).toBe(real.sw.nodeId);
    expect(peer.address).toBe(real.address);
    expect(await hearsay).toBe('ERR_TIMEOUT');
    expect(failures).toEqual([]);
    expect(us.sw.getPeer(real.sw.nodeId)).toBe(peer);
  });

  it('a made-up address told to PEX, dialled by it, does not fail the app dial of the real node', async () => {
    const real = await startPexNode({ transports: [tcpTransport()], listen: 'tcp://127.0.0.1:0', pex: false });
    const madeUp = `tcp://${real.sw.nodeId}@127.0.0.1:${await silentPort()}`;
    const liar = await startPexNode({ transports: [tcpTransport()], listen: 'tcp://127.0.0.1:0', pex: false, agents: { rogue: new RogueAgent(() => [response([madeUp])]) } });
    const us = await startPexNode({ transports: [tcpTransport()], listen: 'tcp://127.0.0.1:0', pex: { feelerIntervalMs: 0 }, switchOptions: { handshakeTimeoutMs: 800 } });
    // We dial the liar and ask it for addresses; PEX then dials the address it was told.
    await us.sw.dial(liar.address);
    await waitFor(() => (silent?.held.length ?? 0) > 0, 5000, 'PEX dials the made-up address');
    // Before: the app's dial shared PEX's and failed with its ERR_TIMEOUT.
    const peer = await us.sw.dial(real.address);
    expect(peer.id).toBe(real.sw.nodeId);
    expect(peer.address).toBe(real.address);
  });
});
