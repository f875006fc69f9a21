/**
 * Text a peer chooses reaches apps that print it: the quick start logs `peer.id` and `reason.message`,
 * and apps show `peer.nodeInfo.moniker` and listen addresses. Over real TCP, a peer puts terminal
 * escapes, a newline and a bidi override in its moniker and in the words of its close reason; what our
 * node hands the app holds none of them (each becomes U+FFFD). Addresses with a space or a control
 * character are invalid, so a NodeInfo or a PEX answer cannot carry them into logs or other books.
 */
import { afterEach, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { wsTransport } from '../../platforms/node/ws-transport.js';
import { ConfigError, ProtocolError } from '../../src/errors.js';
import { parseNodeInfo } from '../../src/switch/node-info.js';
import { parseAddress } from '../../src/transport/address.js';
import { startNode, stopAll } from '../helpers/nodes.js';
import { waitFor, within } from '../helpers/wait.js';

afterEach(stopAll);

// Clear the screen, set the window title, forge a log line, and reverse what follows.
const HOSTILE = '\u001b[2J\u001b]0;pwned\u0007\nconnected to 0000\u202e\u009b';
const UNPRINTABLE = /[\p{Cc}\u202e]/u;

it("a peer's moniker and close reason reach the app without control characters", async () => {
  const victim = await startNode();
  const attacker = await startNode({ moniker: HOSTILE.slice(0, 40) });
  const reasons: (Error | undefined)[] = [];
  victim.sw.on('peer:disconnected', ({ reason }) => reasons.push(reason));
  await attacker.sw.dial(victim.address);
  await waitFor(() => victim.sw.peers.length === 1, 3000, 'the attacker is connected');
  const seen = victim.sw.peers[0]!;
  expect(seen.nodeInfo.moniker).not.toMatch(UNPRINTABLE);
  expect(seen.nodeInfo.moniker).toContain('connected to 0000');
  expect(seen.status().moniker).not.toMatch(UNPRINTABLE);

  attacker.sw.stopPeerForError(attacker.sw.peers[0]!, new ProtocolError('ERR_PROTOCOL', HOSTILE));
  await waitFor(() => reasons.length === 1, 3000, 'the victim sees the close');
  const reason = reasons[0] as Error & { detail?: { remoteMessage?: string } };
  expect(reason.message).toContain('connected to 0000');
  expect(reason.message).not.toMatch(UNPRINTABLE);
  expect(reason.detail?.remoteMessage).not.toMatch(UNPRINTABLE);
});

it('an address with a space or a control character is invalid, and a NodeInfo listing one drops it', () => {
  const id = 'ab'.repeat(20);
  for (const bad of [`ws://${id}@127.0.0.1:9/\u001b[2J`, `ws://${id}@127.0.0.1:9/a b`, `memory://${id}@x\ny`, `ws://${id}@127.0.0.1:9/\u202e`]) {
    expect(() => parseAddress(bad), JSON.stringify(bad)).toThrow(ConfigError);
    try {
      parseAddress(bad);
    } catch (error) {
      expect((error as Error).message).not.toMatch(UNPRINTABLE);
    }
  }
  const info = parseNodeInfo({
    id,
    network: 'n',
    protocolVersion: '2.0.0',
    channels: [],
    recvMessageCapacities: [],
    listenAddresses: [`ws://${id}@127.0.0.1:9/\u001b[2J`, `tcp://${id}@127.0.0.1:9`],
    moniker: '',
    software: '\u001b[31m',
  });
  expect(info.listenAddresses).toEqual([`tcp://${id}@127.0.0.1:9`]);
  expect(info.software).not.toMatch(UNPRINTABLE);
});

it("a WebSocket peer's close reason reaches the link's error without control characters", async () => {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((resolve) => server.once('listening', resolve));
  server.on('connection', (socket) => socket.close(4000, HOSTILE.slice(0, 40)));
  try {
    const port = (server.address() as { port: number }).port;
    const link = await wsTransport().dial({ protocol: 'ws', nodeId: undefined, host: '127.0.0.1', port, path: '/', params: {} });
    const closed = new Promise<Error | undefined>((resolve) => link.attach({ onData: () => undefined, onDrain: () => undefined, onClose: resolve }));
    link.resume();
    const error = await within(closed, 3000, 'the server closes');
    expect(error?.message).toContain('closed with code 4000');
    expect(error?.message).toContain('connected to 0000');
    expect(error?.message).not.toMatch(UNPRINTABLE);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});
