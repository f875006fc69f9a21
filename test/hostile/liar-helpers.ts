/**
 * Helpers for the liar-*.test.ts suites (not a test file): a TCP port that accepts and then says
 * nothing, where a liar's made-up address leads. On 127.0.0.1, port 0.
 */
import net from 'node:net';
import { afterEach } from 'vitest';
import { stopPexNodes } from '../pex/pex-helpers.js';

export interface SilentListener {
  readonly port: number;
  /** Sockets accepted so far (each one a dial that reached it). */
  readonly held: readonly net.Socket[];
  close(): Promise<void>;
}

export async function silentListener(): Promise<SilentListener> {
  const held: net.Socket[] = [];
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    held.push(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    held,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of held.splice(0)) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * Stops the PEX test nodes and closes whatever `track` was given, after each test of the file. Call
 * once at the top of a test file.
 */
export function cleanUpAfterEach(): <T extends { close(): Promise<void> }>(closable: T) => T {
  const closables: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    await stopPexNodes();
    await Promise.all(closables.splice(0).map((closable) => closable.close()));
  });
  return (closable) => {
    closables.push(closable);
    return closable;
  };
}
