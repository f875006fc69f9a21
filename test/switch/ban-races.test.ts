/**
 * A ban that lands while the banned peer's connection is still being set up (over real TCP): the
 * connection must not come up behind the ban, whichever side dialled.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { generateNodeKey, type NodeKey } from '../../src/crypto/keys.js';
import type { PeerRejectedError } from '../../src/errors.js';
import { startNode, stopAll } from '../helpers/nodes.js';
import { waitFor, within } from '../helpers/wait.js';

const servers: net.Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) server.close();
  await stopAll();
});

/** Two keys, the first with the lower node id (the one whose own dial wins a simultaneous dial). */
function orderedKeys(): [NodeKey, NodeKey] {
  const [a, b] = [generateNodeKey(), generateNodeKey()];
  return a.nodeId < b.nodeId ? [a, b] : [b, a];
}

/** A TCP listener that accepts, says nothing, and hangs up after `holdMs`. */
async function silentListener(holdMs: number): Promise<number> {
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    setTimeout(() => socket.destroy(), holdMs);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

describe('a ban landing during the upgrade', () => {
  it('keeps out a peer we are dialling: the dial rejects with ERR_BANNED and no peer is added', async () => {
    const [victim, target] = await Promise.all([startNode(), startNode()]);
    const dialing = victim.sw.dial(target.address);
    victim.sw.ban(target.key.nodeId, 60_000);
    const error = (await within(dialing.then(() => undefined, (e: unknown) => e), 5000, 'dial outcome')) as PeerRejectedError | undefined;
    expect(error?.code, 'the dial to a peer banned meanwhile').toBe('ERR_BANNED');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(victim.sw.getPeer(target.key.nodeId), 'banned peer connected').toBeUndefined();
    await waitFor(() => target.sw.getPeer(victim.key.nodeId) === undefined, 3000, 'the banned side sees the link end');
  });

  it('refuses an inbound peer banned while admission waited on our own dial to it', async () => {
    const [low, high] = orderedKeys();
    const victim = await startNode({ identity: low });
    const other = await startNode({ identity: high });
    // Our dial to `other` goes to a listener that holds it for a second: admission of other's own
    // connection waits on it (the lower id's dial wins a simultaneous dial).
    const port = await silentListener(1000);
    const ourDial = victim.sw.dial(`tcp://${high.nodeId}@127.0.0.1:${port}`).catch((e: unknown) => e);
    const theirDial = other.sw.dial(victim.address).then(() => undefined, (e: unknown) => e as PeerRejectedError);
    await waitFor(() => victim.sw.isAdmitting(high.nodeId) || (victim.sw as unknown as { acceptor: { pendingLinks: Set<unknown> } }).acceptor.pendingLinks.size > 0, 3000, 'the inbound upgrade is under way');
    await new Promise((resolve) => setTimeout(resolve, 200));
    victim.sw.ban(high.nodeId, 60_000);
    await within(ourDial, 5000, 'our dial ends');
    const refused = await within(theirDial, 5000, 'their dial ends');
    expect(refused?.code, 'their dial, banned meanwhile').toBe('ERR_BANNED');
    expect(victim.sw.getPeer(high.nodeId), 'banned peer connected').toBeUndefined();
  });

  it('an address ban (no node id) cuts the peer we reached there and one we are dialling there, as the docs say', async () => {
    const [victim, connected, dialled] = await Promise.all([startNode(), startNode(), startNode()]);
    await victim.sw.dial(connected.address);
    const hostPort = (address: string): string => `tcp://${address.slice(address.indexOf('@') + 1)}`;
    // Before: still connected (only bans naming its id cut a peer), and the dial completed behind the ban.
    victim.sw.ban(hostPort(connected.address), 60_000);
    await waitFor(() => victim.sw.getPeer(connected.key.nodeId) === undefined, 3000, 'the peer at the banned address is cut');
    const dialing = victim.sw.dial(dialled.address).then(() => undefined, (e: unknown) => e as PeerRejectedError);
    victim.sw.ban(hostPort(dialled.address), 60_000);
    expect((await within(dialing, 5000, 'dial outcome'))?.code, 'the dial to an address banned meanwhile').toBe('ERR_BANNED');
    expect(victim.sw.getPeer(dialled.key.nodeId), 'peer at a banned address connected').toBeUndefined();
  });

  it('an address ban holds against the IPv4-mapped IPv6 spelling of its host (the same socket address)', async () => {
    const [victim, target] = await Promise.all([startNode(), startNode()]);
    const port = target.address.slice(target.address.lastIndexOf(':') + 1);
    victim.sw.ban(`tcp://127.0.0.1:${port}`, 60_000);
    // Before: a PEX answer (or anyone) naming [::ffff:127.0.0.1] had us dial the banned address again.
    const error = await victim.sw.dial(`tcp://${target.key.nodeId}@[::ffff:127.0.0.1]:${port}`).then(() => undefined, (e: unknown) => e as PeerRejectedError);
    expect(error?.code, 'dial of the banned address, spelled as IPv6').toBe('ERR_BANNED');
    expect(victim.sw.getPeer(target.key.nodeId)).toBeUndefined();
  });
});
