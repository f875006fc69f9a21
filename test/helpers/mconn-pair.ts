import { MConnection } from '../../src/conn/mconnection.js';
import type { ChannelDescriptor } from '../../src/conn/channel-descriptor.js';
import type { MConnectionConfig } from '../../src/conn/config.js';
import type { Link } from '../../src/transport/link.js';
import { createMemoryLinkPair, type MemoryLinkPairOptions } from '../../src/transport/memory.js';

export interface Received {
  channelId: number;
  message: Uint8Array;
}

export interface Endpoint {
  conn: MConnection;
  received: Received[];
  closed: Promise<Error | undefined>;
  closeError: () => Error | undefined;
  isClosed: () => boolean;
}

/** An MConnection over `link` that records what it receives and how it closed. */
export function endpoint(link: Link, channels: readonly ChannelDescriptor[], config: Partial<MConnectionConfig> = {}): Endpoint {
  const received: Received[] = [];
  let closeError: Error | undefined;
  let isClosed = false;
  let resolveClosed: (error: Error | undefined) => void = () => undefined;
  const closed = new Promise<Error | undefined>((resolve) => (resolveClosed = resolve));
  const conn = new MConnection(
    link,
    channels,
    {
      onMessage: (channelId, message) => received.push({ channelId, message }),
      onClose: (error) => {
        closeError = error;
        isClosed = true;
        resolveClosed(error);
      },
    },
    config,
  );
  conn.start();
  return { conn, received, closed, closeError: () => closeError, isClosed: () => isClosed };
}

/** Two endpoints over a memory link pair; both are added to `open` for the caller to destroy. */
export function memoryPair(channels: readonly ChannelDescriptor[], open: Endpoint[], links: MemoryLinkPairOptions = {}): [Endpoint, Endpoint] {
  const [linkA, linkB] = createMemoryLinkPair(links);
  const ends: [Endpoint, Endpoint] = [endpoint(linkA, channels), endpoint(linkB, channels)];
  open.push(...ends);
  return ends;
}
