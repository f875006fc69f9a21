import net from 'node:net';
import { TcpLink } from '../../platforms/node/tcp.js';
import { AbortError, TransportError } from '../../src/errors.js';
import type { Link } from '../../src/transport/link.js';
import type { Transport } from '../../src/transport/transport.js';

/**
 * A TCP transport (dial only) whose sockets leave from `localAddress`: with 127.x.y.z (all of 127/8 is
 * loopback on Linux) a test can have peers on one machine come from different networks (IPv4 /16s)
 * as the relay sees them. The listener stays on 127.0.0.1 port 0.
 */
export function tcpFrom(localAddress: string): Transport {
  return {
    protocols: ['tcp'],
    dial: (address, options = {}) =>
      new Promise<Link>((resolve, reject) => {
        const socket = net.connect({ host: address.host, port: address.port, localAddress, allowHalfOpen: true });
        const onAbort = (): void => {
          socket.destroy();
          reject(new AbortError('dial aborted'));
        };
        options.signal?.addEventListener('abort', onAbort, { once: true });
        socket.once('error', (error) => {
          options.signal?.removeEventListener('abort', onAbort);
          socket.destroy();
          reject(new TransportError(`Dial from ${localAddress} failed: ${error.message}`, { cause: error }));
        });
        socket.once('connect', () => {
          options.signal?.removeEventListener('abort', onAbort);
          socket.removeAllListeners('error');
          resolve(new TcpLink(socket));
        });
      }),
  };
}
