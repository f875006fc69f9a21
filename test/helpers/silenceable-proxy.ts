import net from 'node:net';

/**
 * A TCP relay to 127.0.0.1:`targetPort` that can go silent the way a dead path does: `silence()` closes
 * the dialler's side (it sees its connection end) while the target's side stays open and hears nothing,
 * as when a page's network changes or a NAT drops its mapping. The target learns of it only from its
 * keep-alive. New connections through the relay work as before.
 */
export interface SilenceableProxy {
  readonly port: number;
  silence(): void;
  close(): void;
}

export async function startSilenceableProxy(targetPort: number): Promise<SilenceableProxy> {
  const pairs: [net.Socket, net.Socket][] = [];
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
    pairs.push([client, upstream]);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    silence() {
      for (const [client, upstream] of pairs.splice(0)) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        upstream.pause(); // holds the target's side open, reading nothing, sending nothing
        client.destroy();
      }
    },
    close() {
      server.close();
      for (const [client, upstream] of pairs.splice(0)) {
        client.destroy();
        upstream.destroy();
      }
    },
  };
}
