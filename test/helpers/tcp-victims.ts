/**
 * A TCP listener standing for the victim of the connections a WebRTC remote's `tcptype passive`
 * candidates make our ICE agent open: it counts the connections that reach it and closes each at once.
 */
import { createServer } from 'node:net';

export interface TcpVictim {
  readonly port: number;
  connections(): number;
  close(): void;
}

/** A listener on `host`, on a port the OS picks. */
export async function tcpVictim(host: string): Promise<TcpVictim> {
  let connections = 0;
  const server = createServer((socket) => {
    connections++;
    socket.on('error', () => {});
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  return { port: (server.address() as { port: number }).port, connections: () => connections, close: () => server.close() };
}
