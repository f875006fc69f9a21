/**
 * Issue 8, before and during the handshake: bytes that are not meshlink, frames that declare 4 GiB,
 * an address that names another id than the key proves, sealed frames replayed or reordered by a
 * proxy, a hello reflected back, and an acceptor answering a dial with msgpack bombs. Every attempt
 * costs only the attacker's link, with a typed error, while the honest pair keeps exchanging.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { HELLO_BYTES } from '../../src/crypto/constants.js';
import { generateNodeKey } from '../../src/crypto/keys.js';
import { HandshakeError, MeshlinkError } from '../../src/errors.js';
import { frameLinkMessage } from '../../src/switch/link-messages.js';
import { PROTOCOL_VERSION, type NodeInfo } from '../../src/switch/node-info.js';
import { encodeMessage } from '../../src/wire/codec.js';
import { startNode, stopAll } from '../helpers/nodes.js';
import { waitFor, within } from '../helpers/wait.js';
import { APP_CH, expectCutOff, finishScene, heapUsedBytes, sleep, stopHostileNodes, type Victim } from './harness.js';
import {
  connectThrough,
  guardProcessFaults,
  openRaw,
  recordRefusals,
  startMaliciousAcceptor,
  startProxy,
  startReflector,
  tcpPort,
  validHello,
  type CodedError,
  type HostileListener,
  type TcpProxy,
  startLightScene,
  type Scene,
} from './raw-peer.js';

guardProcessFaults();
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
  await Promise.all([stopHostileNodes(), stopAll()]);
});

function track<T extends HostileListener | TcpProxy>(closable: T): T {
  closers.push(() => closable.close());
  return closable;
}

/** Handshake deadline of the victim: every refusal below must come well before it. */
const HANDSHAKE_TIMEOUT_MS = 5000;
/** How long a refusal for cause may take on busy cores (a timeout would take HANDSHAKE_TIMEOUT_MS). */
const CUT_WITHIN_MS = 3000;
const FOUR_GIB_PREFIX = Uint8Array.of(0xff, 0xff, 0xff, 0xff);
const bytes = (...parts: (number[] | Uint8Array)[]): Uint8Array => Uint8Array.from(parts.flatMap((p) => [...p]));
const repeat = (pattern: number[], times: number): number[] => Array.from({ length: times }, () => pattern).flat();

async function dialFailure(victim: Victim, address: string): Promise<{ error: CodedError; elapsedMs: number }> {
  const started = performance.now();
  const error = (await within(victim.sw.dial(address).then(() => new Error('dial unexpectedly succeeded'), (e: unknown) => e as Error), HANDSHAKE_TIMEOUT_MS + 2000, 'dial outcome')) as CodedError;
  return { error, elapsedMs: performance.now() - started };
}

describe('before the handshake: a raw connection that is not meshlink', () => {
  it('cuts random bytes, a 4 GiB first frame, a foreign version, a low-order key and a forged frame #0, each with its typed code', async () => {
    const scene = await startLightScene({ switchOptions: { handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS } });
    const refusals = recordRefusals(scene.victim.sw);
    const port = tcpPort(scene.victim.tcpAddress);
    const randomNotHello = (size: number): Uint8Array => {
      const junk = new Uint8Array(randomBytes(size));
      junk[0] = 0x00; // never "m": the magic check must be what refuses it
      return junk;
    };
    const badVersion = validHello();
    badVersion[3] = 0x7f;
    const sealedLength = 96 + 16; // an auth message's size, but sealed with a key nobody has
    const attacks: { name: string; send: Uint8Array; code: string }[] = [
      ...[36, 4096, 64 * 1024].map((size) => ({ name: `${size} random bytes`, send: randomNotHello(size), code: 'ERR_HANDSHAKE' })),
      // A client that expects a length-prefixed first frame: 0xffffffff, then whatever it sends next.
      { name: 'a 4 GiB length prefix as the first frame', send: bytes(FOUR_GIB_PREFIX, randomBytes(64)), code: 'ERR_HANDSHAKE' },
      { name: 'a hello, then a 4 GiB frame #0', send: bytes(validHello(), FOUR_GIB_PREFIX), code: 'ERR_FRAME_TOO_LARGE' },
      { name: 'a hello of version 0x7f', send: badVersion, code: 'ERR_INCOMPATIBLE_PEER' },
      { name: 'a hello with an all-zero (low-order) key', send: bytes([0x6d, 0x6c, 0x6b], [validHello()[3]!], new Uint8Array(32)), code: 'ERR_HANDSHAKE' },
      { name: 'a hello, then a forged frame #0', send: bytes(validHello(), [0, 0, 0, sealedLength], randomBytes(sealedLength)), code: 'ERR_DECRYPT' },
    ];
    for (const { name, send, code } of attacks) {
      const raw = await openRaw(port);
      raw.socket.write(send);
      const error = await refusals.rejectionOf(raw.seenAs, CUT_WITHIN_MS);
      const closedAfterMs = await within(raw.closed, CUT_WITHIN_MS, `${name}: victim hangs up`);
      expect(error, name).toBeInstanceOf(MeshlinkError);
      expect(error.code, `${name}: ${error.message}`).toBe(code);
      expect(closedAfterMs, `${name}: cut for cause, not by the deadline`).toBeLessThan(CUT_WITHIN_MS);
    }
    refusals.stop();
    await finishScene(scene, 50);
  });
});

describe('during the session: sealed frames tampered with on the wire', () => {
  async function proxiedPeer(scene: Scene) {
    const proxy = track(await startProxy(tcpPort(scene.victim.tcpAddress)));
    const node = await connectThrough(scene.victim, proxy.port);
    const toVictim = node.sw.getPeer(scene.victim.id)!;
    for (let s = 0; s < 5; s++) {
      expect(await toVictim.send(APP_CH, encodeMessage({ k: 'proxied', s }))).toBe(true);
      await sleep(5); // separate flushes: separate frames
    }
    const pipe = proxy.pipes[0]!;
    await sleep(50);
    expect(pipe.captured.up.length, 'frames captured dialer → victim: auth, NodeInfo, data').toBeGreaterThanOrEqual(3);
    return { node, pipe, toVictim };
  }

  it('cuts a peer whose stream declares a 4 GiB sealed frame with ERR_FRAME_TOO_LARGE, and only that peer', async () => {
    const scene = await startLightScene();
    const { node, pipe } = await proxiedPeer(scene);
    const since = Date.now();
    pipe.inject('up', FOUR_GIB_PREFIX);
    await expectCutOff(scene.victim, node.sw.nodeId, 'ERR_FRAME_TOO_LARGE', CUT_WITHIN_MS, since);
    await finishScene(scene, 50);
  });

  it('cuts a peer whose earlier sealed frame is replayed with ERR_DECRYPT, and only that peer', async () => {
    const scene = await startLightScene();
    const { node, pipe } = await proxiedPeer(scene);
    const since = Date.now();
    pipe.inject('up', pipe.captured.up[1]!); // frame #1 (the NodeInfo), sent again much later
    await expectCutOff(scene.victim, node.sw.nodeId, 'ERR_DECRYPT', CUT_WITHIN_MS, since);
    await finishScene(scene, 50);
  });

  it('cuts a peer whose sealed frames are swapped in transit with ERR_DECRYPT, and only that peer', async () => {
    const scene = await startLightScene();
    const { node, pipe, toVictim } = await proxiedPeer(scene);
    let held: Uint8Array | undefined;
    pipe.onFrame = (flow, frame) => {
      if (flow !== 'up') return [frame];
      if (held === undefined) {
        held = frame;
        return [];
      }
      pipe.onFrame = undefined;
      return [frame, held];
    };
    const since = Date.now();
    await toVictim.send(APP_CH, encodeMessage({ k: 'first' }));
    await sleep(20);
    await toVictim.send(APP_CH, encodeMessage({ k: 'second' }));
    await expectCutOff(scene.victim, node.sw.nodeId, 'ERR_DECRYPT', CUT_WITHIN_MS, since);
    await finishScene(scene, 50);
  });
});

describe('identity: the address names one node, the key proves another', () => {
  it('fails the dial with ERR_WRONG_PEER_ID and adds no peer', async () => {
    const scene = await startLightScene();
    const impostor = await startNode({ network: scene.victim.sw.options.network, channels: [] });
    const claimed = generateNodeKey().nodeId;
    const { error, elapsedMs } = await dialFailure(scene.victim, `tcp://${claimed}@127.0.0.1:${tcpPort(impostor.address)}`);
    expect(error).toBeInstanceOf(HandshakeError);
    expect(error.code).toBe('ERR_WRONG_PEER_ID');
    expect(elapsedMs).toBeLessThan(CUT_WITHIN_MS);
    expect(scene.victim.sw.getPeer(claimed)).toBeUndefined();
    expect(scene.victim.sw.getPeer(impostor.sw.nodeId)).toBeUndefined();
    expect(scene.victim.sw.peerCounts().dialing).toBe(0);
    await finishScene(scene, 50);
  });
});

describe('a hello reflected back', () => {
  it('refuses its own hello echoed back, as dialer and as acceptor, with ERR_HANDSHAKE', async () => {
    const scene = await startLightScene();
    const reflector = track(await startReflector());
    const { error, elapsedMs } = await dialFailure(scene.victim, reflector.address);
    expect(error).toBeInstanceOf(HandshakeError);
    expect(error.code, error.message).toBe('ERR_HANDSHAKE');
    expect(elapsedMs).toBeLessThan(CUT_WITHIN_MS);

    const refusals = recordRefusals(scene.victim.sw);
    const raw = await openRaw(tcpPort(scene.victim.tcpAddress));
    await waitFor(() => raw.received.reduce((n, chunk) => n + chunk.length, 0) >= HELLO_BYTES, CUT_WITHIN_MS, "the victim's hello");
    raw.socket.write(bytes(...raw.received).subarray(0, HELLO_BYTES)); // the victim's own hello, sent back
    const inbound = await refusals.rejectionOf(raw.seenAs, CUT_WITHIN_MS);
    expect(inbound).toBeInstanceOf(HandshakeError);
    expect(inbound.code, inbound.message).toBe('ERR_HANDSHAKE');
    await within(raw.closed, CUT_WITHIN_MS, 'victim hangs up on the reflection');
    refusals.stop();
    await finishScene(scene, 50);
  });
});

describe('an acceptor we dial answers with msgpack bombs', () => {
  const ARRAY32_100K = [0xdd, 0x00, 0x01, 0x86, 0xa0];
  /** What goes on the wire after the secure handshake: a link message (framed) or raw bytes. */
  type Bomb = { name: string; framed?: Uint8Array; raw?: Uint8Array; code: string };
  const sharedBombs = (maxNesting: number): Bomb[] => [
    { name: 'an array32 declaring 100,000 elements', framed: bytes(ARRAY32_100K, repeat([0xc0], 16)), code: 'ERR_MALFORMED_MESSAGE' },
    { name: 'nested array32 headers, each declaring 100,000', framed: bytes(repeat(ARRAY32_100K, Math.floor(maxNesting / 5))), code: 'ERR_MALFORMED_MESSAGE' },
    { name: `${maxNesting} levels of nesting`, framed: bytes(repeat([0x91], maxNesting), [0xc0]), code: 'ERR_MALFORMED_MESSAGE' },
    { name: 'a map32 declaring 2^32-1 entries', framed: bytes([0xdf, 0xff, 0xff, 0xff, 0xff]), code: 'ERR_MALFORMED_MESSAGE' },
    { name: 'a str32 declaring 2 GiB', framed: bytes([0xdb, 0x7f, 0xff, 0xff, 0xff], [0x41, 0x41]), code: 'ERR_MALFORMED_MESSAGE' },
    { name: 'a str32 running past the end', framed: bytes([0x81, 0xa1, 0x6b, 0xdb, 0x00, 0x00, 0x01, 0x00], [0x41, 0x41, 0x41]), code: 'ERR_MALFORMED_MESSAGE' },
    { name: 'a bin32 declaring 4 GiB', framed: bytes([0xc6, 0xff, 0xff, 0xff, 0xff]), code: 'ERR_MALFORMED_MESSAGE' },
    { name: 'a 4 GiB link-message length', raw: FOUR_GIB_PREFIX, code: 'ERR_MESSAGE_TOO_LARGE' },
  ];

  async function expectBombsFail(scene: Scene, bombs: Bomb[], prelude: (acceptorId: string) => Uint8Array | undefined): Promise<void> {
    const heapBefore = heapUsedBytes();
    for (const bomb of bombs) {
      const acceptor = track(
        await startMaliciousAcceptor((secure) => {
          const first = prelude(secure.localNodeId);
          if (first !== undefined) secure.write(first);
          secure.write(bomb.raw ?? frameLinkMessage(bomb.framed!));
        }),
      );
      for (let attempt = 0; attempt < 2; attempt++) {
        const { error, elapsedMs } = await dialFailure(scene.victim, acceptor.address);
        expect(error, bomb.name).toBeInstanceOf(MeshlinkError);
        expect(error.code, `${bomb.name}: ${error.message}`).toBe(bomb.code);
        expect(elapsedMs, `${bomb.name}: refused for cause, not by the deadline`).toBeLessThan(CUT_WITHIN_MS);
      }
      expect(scene.victim.sw.getPeer(acceptor.key.nodeId), bomb.name).toBeUndefined();
    }
    expect(scene.victim.sw.peerCounts().dialing).toBe(0);
    expect((heapUsedBytes() - heapBefore) / (1024 * 1024), 'retained heap after the bombs (MB)').toBeLessThan(50);
    expect(scene.heap.peakGrowthBytes / (1024 * 1024), 'peak heap during the bombs (MB)').toBeLessThan(100);
  }

  it('fails each dial with ERR_MALFORMED_MESSAGE or ERR_MESSAGE_TOO_LARGE when the NodeInfo is a bomb, without a heap jump', async () => {
    const scene = await startLightScene();
    const nodeInfoBombs: Bomb[] = [
      ...sharedBombs(15_000),
      { name: 'a NodeInfo whose channels array32 declares 100,000', framed: bytes([0x81, 0xa8], [...new TextEncoder().encode('channels')], ARRAY32_100K, [1, 2, 3]), code: 'ERR_MALFORMED_MESSAGE' },
    ];
    await expectBombsFail(scene, nodeInfoBombs, () => undefined);
    await finishScene(scene, 50);
  });

  it('fails each dial with a typed error when the admission decision is a bomb or a lie', async () => {
    const scene = await startLightScene();
    const network = scene.victim.sw.options.network;
    const honestInfo = (id: string): Uint8Array => {
      const info: NodeInfo = { id, network, protocolVersion: PROTOCOL_VERSION, channels: [APP_CH], recvMessageCapacities: [64 * 1024], listenAddresses: [], moniker: 'bomber', software: 'evil/1.0.0' };
      return frameLinkMessage(encodeMessage(info));
    };
    const decisionBombs: Bomb[] = [
      ...sharedBombs(600), // the decision's byte cap is 1 KiB: the bombs must fit to reach the decoder
      { name: 'a 2 KiB decision', framed: encodeMessage({ accept: true, pad: 'x'.repeat(2000) }), code: 'ERR_MESSAGE_TOO_LARGE' },
      { name: 'accept: "yes"', framed: encodeMessage({ accept: 'yes' }), code: 'ERR_HANDSHAKE' },
      { name: 'a refusal with an unknown code', framed: encodeMessage({ accept: false, code: 'ERR_EVIL', reason: 'x' }), code: 'ERR_HANDSHAKE' },
      { name: 'an array instead of a map', framed: encodeMessage([true]), code: 'ERR_HANDSHAKE' },
    ];
    await expectBombsFail(scene, decisionBombs, honestInfo);
    await finishScene(scene, 50);
  });
});
