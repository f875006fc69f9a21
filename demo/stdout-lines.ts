/** Where the CLI writes its lines: process.stdout in the program, anything stream-like in tests. */
export interface LineSink {
  write(chunk: string): boolean;
  on(event: 'error', listener: (error: NodeJS.ErrnoException) => void): unknown;
}

export interface StdoutLines {
  /** Writes one line, or nothing once the reader has gone. */
  write(line: string): void;
  /** The reader went away (`meshlink node … | head -1`): logging stopped, the node did not. */
  readonly closed: boolean;
}

/**
 * Lines to stdout that outlive their reader. When the pipe's reader exits, writes fail with EPIPE,
 * which Node reports as an 'error' event on stdout; unhandled, that would crash the node. Here it
 * only ends the logging: a closed stdout must never stop a node that is serving peers.
 */
export function stdoutLines(sink: LineSink = process.stdout, onClosed: (error: Error) => void = () => undefined): StdoutLines {
  let closed = false;
  sink.on('error', (error) => {
    if (closed) return;
    closed = true;
    onClosed(error);
  });
  return {
    write(line) {
      if (!closed) sink.write(`${line}\n`);
    },
    get closed() {
      return closed;
    },
  };
}
