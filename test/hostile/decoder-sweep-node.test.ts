/**
 * The decoder sweep (decoder-sweep.test.ts) over real sockets: a node made by createNode with the relay
 * program's agents (PEX, signalling relay, mempool, topology, chat, burst), listening on TCP and ws on
 * 127.0.0.1. Fresh-key attackers send every structural shape of decoder-shapes.ts on every channel, and
 * the field-level shapes its decoders refuse; NodeInfo shapes go both ways through the upgrade. Each
 * attacker must be cut with a typed error, an honest peer keeps exchanging txs and chat over the
 * victim, the victim answers status(), nothing is thrown out of the event loop, Object.prototype is
 * untouched.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ChatCh, decodeChatMessage, type ChatDelivery } from '../../demo/agents/chat.js';
import { decodeTxMessage, MempoolCh } from '../../demo/agents/mempool.js';
import { decodeAnnouncement, TopologyCh } from '../../demo/agents/topology.js';
import { nodeChaCha20Poly1305 } from '../../platforms/node/aead.js';
import { tcpTransport } from '../../platforms/node/tcp.js';
import { secureHandshake } from '../../src/conn/secure-link.js';
import { generateNodeKey } from '../../src/crypto/keys.js';
import { MeshlinkError } from '../../src/errors.js';
import { PEX_CHANNEL_ID } from '../../src/pex/constants.js';
import { decodePexMessage } from '../../src/pex/pex-messages.js';
import { frameLinkMessage } from '../../src/switch/link-messages.js';
import { PROTOCOL_VERSION } from '../../src/switch/node-info.js';
import { parseAddress } from '../../src/transport/address.js';
import { SIGNAL_CHANNEL_ID } from '../../src/webrtc/constants.js';
import { decodeSignalMessage } from '../../src/webrtc/signal-messages.js';
import { encodeMessage } from '../../src/wire/codec.js';
import { waitFor } from '../helpers/wait.js';
import { HOSTILE_NUMBERS, STRUCTURAL_SHAPES, withField, type Shape } from './decoder-shapes.js';
import { asVictim, attack, CHANNELS, connected, CUT_OFF_MS, cutByVictim, expectHonestTraffic, NETWORK, refuses, startRelayNode, stopRelayNodes } from './decoder-sweep-scene.js';
import { attackerChannels, connectAttacker, recordProcessFaults, sleep, stopHostileNodes } from './harness.js';
import { startMaliciousAcceptor } from './raw-peer.js';

const ID_A = 'a'.repeat(40);
const ID_B = 'b'.repeat(40);

afterEach(async () => {
  await stopRelayNodes();
  await stopHostileNodes();
});

/** A victim and an honest peer (over `via`), linked, with process faults recorded. */
async function startSweep(via: 'tcpAddress' | 'wsAddress') {
  const faults = recordProcessFaults();
  const victimNode = await startRelayNode();
  const victim = asVictim(victimNode.sw);
  const honest = await startRelayNode([victim[via]]);
  await connected(victimNode.sw, honest.sw);
  return { faults, victimNode, victim, honest };
}

/** What every sweep ends with: honest traffic still arrives, no pollution, no fault. */
async function finishSweep({ faults, victimNode, honest }: Awaited<ReturnType<typeof startSweep>>): Promise<void> {
  await expectHonestTraffic(honest, victimNode, 1);
  expect(victimNode.sw.status().peers.map((p) => p.id), 'only the honest peer is left').toEqual([honest.sw.nodeId]);
  expect(({} as Record<string, unknown>)['polluted'], 'Object.prototype polluted').toBeUndefined();
  faults.stop();
  expect(faults.faults, 'uncaught exceptions / unhandled rejections').toEqual([]);
}

describe('decoder sweep over real sockets: createNode with the relay agents', { timeout: 120_000 }, () => {
  it('every structural shape on every decoding channel, over TCP and ws, cuts only its sender with a typed error', async () => {
    const scene = await startSweep('tcpAddress');
    const { victimNode, victim, honest } = scene;
    await expectHonestTraffic(honest, victimNode, 0);

    await attack(victim, STRUCTURAL_SHAPES, CHANNELS, cutByVictim(victim));
    await finishSweep(scene);
  });

  it('field-level shapes each decoder refuses (hostile numbers, __proto__ keys, wrong kinds) cut the sender over the wire too', async () => {
    const scene = await startSweep('wsAddress');
    const { victim } = scene;

    const chat = { id: new Uint8Array(16), origin: ID_A, name: 'n', text: 't', hops: 0 };
    const announcement = { origin: ID_A, seq: 1, moniker: 'm', kind: 'node', hops: 0, links: [[ID_B, 'tcp']] };
    const signal = { type: 'signal', from: ID_A, to: ID_B, data: { type: 'offer', sdp: 'v=0' } };
    const proto = [0x81, 0xa8, ...new TextEncoder().encode('polluted'), 0xc3];
    const numbers = (fields: Record<string, unknown>, field: string): Shape[] =>
      HOSTILE_NUMBERS.map(({ name, raw }) => ({ name: `${field} = ${name}`, bytes: withField(fields, field, raw) }));
    const extraKeys = (fields: Record<string, unknown>): Shape[] =>
      ['__proto__', 'constructor', 'prototype'].map((extra) => ({ name: `+ ${extra}`, bytes: withField(fields, extra, proto) }));
    const perChannel: [number, (bytes: Uint8Array) => unknown, Shape[]][] = [
      [ChatCh, decodeChatMessage, [...numbers(chat, 'hops'), ...extraKeys(chat)]],
      [TopologyCh, decodeAnnouncement, [...numbers(announcement, 'hops'), ...numbers(announcement, 'seq'), ...extraKeys(announcement)]],
      [MempoolCh, decodeTxMessage, [...extraKeys({ tx: new Uint8Array(1) }), { name: 'tx as a string', bytes: encodeMessage({ tx: 'abc' }) }]],
      [PEX_CHANNEL_ID, (bytes) => decodePexMessage(bytes), [...extraKeys({ type: 'pexRequest' }), ...numbers({ type: 'pexResponse', addresses: [] }, 'addresses')]],
      [SIGNAL_CHANNEL_ID, decodeSignalMessage, [...extraKeys(signal), ...extraKeys(signal.data).map(({ name, bytes }) => ({ name: `data ${name}`, bytes: withField(signal, 'data', [...bytes]) }))]],
    ];
    for (const [id, decode, shapes] of perChannel) {
      // What the decoder refuses on its own must cut the sender over the wire too.
      const refused = shapes.filter(({ bytes }) => refuses(decode, bytes));
      expect(refused.length, `0x${id.toString(16)}: shapes refused`).toBeGreaterThan(0);
      await attack(victim, refused, [{ name: `0x${id.toString(16)}`, id }], cutByVictim(victim));
    }
    await finishSweep(scene);
  });

  it("a refusal's message (what the app logs as reason.message) carries no control or bidi character the attacker chose", async () => {
    const scene = await startSweep('tcpAddress');
    const { victim } = scene;
    const hostile = '\u001b[2J\u001b]0;pwned\u0007\nconnected\u202e\u009b';
    const shapes: [number, Uint8Array][] = [
      [PEX_CHANNEL_ID, encodeMessage({ type: hostile })],
      [SIGNAL_CHANNEL_ID, encodeMessage({ type: hostile })],
      [ChatCh, encodeMessage({ [hostile]: 1 })],
      [TopologyCh, encodeMessage({ kind: hostile })],
      [MempoolCh, encodeMessage({ [hostile]: hostile })],
    ];
    const errors: Error[] = [];
    victim.sw.on('peer:error', ({ error }) => void errors.push(error));
    for (const [id, bytes] of shapes) {
      await attack(victim, [{ name: 'hostile text', bytes }], [{ name: `0x${id.toString(16)}`, id }], async (attacker, since, what) => {
        const reason = await cutByVictim(victim)(attacker, since, what);
        expect(reason?.message, `${what}: the reason`).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202e]/u);
        return reason;
      });
    }
    for (const error of errors) expect(error.message, 'peer:error').not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202e]/u);
    await finishSweep(scene);
  });

  it('what the relay passes on of a stranger\'s chat and topology (control characters replaced) still decodes at the next hop', async () => {
    const scene = await startSweep('tcpAddress');
    const { victimNode, victim, honest } = scene;
    const cuts: string[] = [];
    honest.sw.on('peer:disconnected', ({ peer, reason }) => void cuts.push(`${peer.id === victimNode.sw.nodeId ? 'the relay' : peer.id}: ${reason?.message}`));
    const heard: ChatDelivery[] = [];
    honest.chat.onMessage((message) => void heard.push(message));
    const attacker = await connectAttacker(victim, { channels: attackerChannels([MempoolCh, TopologyCh, ChatCh]) });
    // 22 one-byte control characters: 66 bytes as U+FFFD, over the 64 a name or moniker may take.
    const controls = '\u0001'.repeat(22);
    const chat = { id: new Uint8Array(16).fill(7), origin: attacker.id, name: controls, text: `${'\u0007'.repeat(340)}!`, hops: 0 };
    expect(await attacker.peer.send(ChatCh, encodeMessage(chat))).toBe(true);
    const announcement = { origin: attacker.id, seq: Date.now(), moniker: controls, kind: 'node', hops: 0, links: [] };
    expect(await attacker.peer.send(TopologyCh, encodeMessage(announcement))).toBe(true);
    await waitFor(() => heard.length > 0 || cuts.length > 0, 3000, 'the chat message passed on, or the relay cut');
    await sleep(300);
    expect(cuts, 'the honest peer keeps the relay').toEqual([]);
    expect(heard[0]?.origin).toBe(attacker.id);
    expect(new TextEncoder().encode(heard[0]!.name).length).toBeLessThanOrEqual(64);
    await waitFor(() => honest.sw.status().peers.length > 0 && victimNode.sw.getPeer(attacker.id) !== undefined, 1000, 'the attacker was not cut either');
    await attacker.sw.stop();
    await waitFor(() => victimNode.sw.getPeer(attacker.id) === undefined, 3000, 'the attacker leaves');
    await finishSweep(scene);
  });

  it('NodeInfo shapes in the upgrade, inbound and outbound, fail only that link with a typed error', async () => {
    const scene = await startSweep('tcpAddress');
    const { victimNode, victim } = scene;
    const rejected: { remote: string; error: Error }[] = [];
    victimNode.sw.on('inbound:rejected', ({ remoteAddress, error }) => void rejected.push({ remote: remoteAddress, error }));
    const key = generateNodeKey();
    const info = { id: key.nodeId, network: NETWORK, protocolVersion: PROTOCOL_VERSION, channels: [0], recvMessageCapacities: [1024], listenAddresses: [], moniker: 'm', software: 's' };
    const shapes: Shape[] = [
      ...STRUCTURAL_SHAPES,
      ...HOSTILE_NUMBERS.map(({ name, raw }) => ({ name: `channels [${name}]`, bytes: withField(info, 'channels', [0x91, ...raw]) })),
      { name: 'NodeInfo + __proto__', bytes: withField(info, '__proto__', [0x81, 0xa1, 0x70, 0xc3]) },
    ];
    const codes = ['ERR_MALFORMED_MESSAGE', 'ERR_MESSAGE_TOO_LARGE', 'ERR_HANDSHAKE'];
    const { port } = parseAddress(victim.tcpAddress);
    for (const shape of shapes) {
      // Inbound: we dial the victim, finish the secure handshake with `key`, and send the shape as our NodeInfo.
      const link = await tcpTransport().dial({ protocol: 'tcp', nodeId: undefined, host: '127.0.0.1', port, path: '', params: {} });
      const closed = new Promise<void>((resolve) => {
        void secureHandshake(link, { identity: key, timeoutMs: 3000, aead: nodeChaCha20Poly1305 }).then((secure) => {
          secure.attach({ onData: () => undefined, onDrain: () => undefined, onClose: () => resolve() });
          secure.write(frameLinkMessage(shape.bytes));
        }, () => resolve());
      });
      await waitFor(() => rejected.length > 0, CUT_OFF_MS, `inbound ${shape.name}: refused`);
      const { error } = rejected.shift()!;
      expect(codes, `inbound ${shape.name}: ${error.message}`).toContain((error as MeshlinkError).code);
      await closed;
      // Outbound: the victim dials an acceptor that answers with the shape as its NodeInfo.
      const acceptor = await startMaliciousAcceptor((secure: { write(bytes: Uint8Array): void }) => secure.write(frameLinkMessage(shape.bytes)));
      const failure = await victimNode.sw.dial(acceptor.address).then(() => undefined, (e: unknown) => e as MeshlinkError);
      await acceptor.close();
      expect(failure, `outbound ${shape.name}`).toBeInstanceOf(MeshlinkError);
      expect(codes, `outbound ${shape.name}: ${failure?.message}`).toContain(failure!.code);
    }
    await finishSweep(scene);
  });
});
