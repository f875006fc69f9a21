/**
 * A liar refusing our dial with words of its choosing: the admission decision's reason reaches our
 * dial's error (and so `dial:failed` and the app's logs). Over real TCP.
 */
import { describe, expect, it } from 'vitest';
import { tcpTransport } from '../../platforms/node/tcp.js';
import { PROTOCOL_VERSION } from '../../src/switch/node-info.js';
import { frameLinkMessage } from '../../src/switch/link-messages.js';
import { encodeMessage } from '../../src/wire/codec.js';
import { startPexNode } from '../pex/pex-helpers.js';
import { cleanUpAfterEach } from './liar-helpers.js';
import { guardProcessFaults, startMaliciousAcceptor, type HostileListener } from './raw-peer.js';

guardProcessFaults();
const track = cleanUpAfterEach();

const FORGED = '\x1b[2J\x1b]0;owned\x07\nconnected to 0000 (outbound)\u202e';

describe('a refusal reason chosen by the acceptor', () => {
  it('reaches the dial error with its control and bidi characters replaced', async () => {
    const us = await startPexNode({ transports: [tcpTransport()], listen: 'tcp://127.0.0.1:0', pex: false });
    const liar: HostileListener = track(await startMaliciousAcceptor((secure) => {
      const info = { id: liar.key.nodeId, network: 'pex-test', protocolVersion: PROTOCOL_VERSION, channels: [], recvMessageCapacities: [], listenAddresses: [], moniker: 'liar', software: 'x' };
      secure.write(frameLinkMessage(encodeMessage(info)));
      secure.write(frameLinkMessage(encodeMessage({ accept: false, code: 'ERR_PEER_LIMIT', reason: FORGED })));
    }));
    const error = await us.sw.dial(liar.address).then(
      () => undefined,
      (failure: Error & { code?: string }) => failure,
    );
    expect(error?.code).toBe('ERR_PEER_LIMIT');
    // Before: the escapes, the title sequence, the newline and the override went into the message as sent.
    expect(error?.message).toContain('connected to 0000');
    expect(error?.message).not.toMatch(/[\x00-\x1f\x7f\u202e]/);
  });
});
