/**
 * Logging for the demo programs. Node code emits `(level, event, fields)`; the CLI renders JSON lines
 * for scripts, `npm start` renders sentences for people. One event vocabulary, two renderers.
 */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFields = Record<string, unknown>;
export type Logger = (level: LogLevel, event: string, fields?: LogFields) => void;

export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === 'string' && (LOG_LEVELS as readonly string[]).includes(value);
}

export function levelEnabled(level: LogLevel, minimum: LogLevel): boolean {
  return LOG_LEVELS.indexOf(level) >= LOG_LEVELS.indexOf(minimum);
}

/** The fields of an error worth logging: stable code first, then message and the peer it concerns. */
export function errorFields(error: unknown): LogFields {
  if (!(error instanceof Error)) return { message: String(error) };
  const { code, peerId } = error as { code?: unknown; peerId?: unknown };
  return {
    ...(typeof code === 'string' ? { code } : {}),
    message: error.message,
    ...(typeof peerId === 'string' ? { peerId } : {}),
  };
}

/** Lines held before `release()`: enough for a burst during start-up, bounded if nobody releases. */
const MAX_HELD_LINES = 1000;

export interface JsonLogger {
  log: Logger;
  /**
   * Lines are held until this is called, so that the CLI's "started" line is always the first line
   * on stdout even if a peer connects while it is being prepared.
   */
  release(): void;
}

/** `{ "ts", "level", "event", ...fields }`, one object per line. */
export function createJsonLogger(write: (line: string) => void, minimum: LogLevel): JsonLogger {
  let held: string[] | undefined = [];
  return {
    log(level, event, fields = {}) {
      if (!levelEnabled(level, minimum)) return;
      const line = JSON.stringify({ ts: new Date().toISOString(), level, event, ...fields });
      if (held === undefined) write(line);
      else if (held.length < MAX_HELD_LINES) held.push(line);
    },
    release() {
      const lines = held ?? [];
      held = undefined;
      for (const line of lines) write(line);
    },
  };
}
