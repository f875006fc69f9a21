import net from 'node:net';

/** A port on 127.0.0.1 that nothing listens on (bound, then closed): to dial and fail, or to listen on next. */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
