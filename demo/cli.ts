#!/usr/bin/env node
import { parseCommandLine, USAGE, UsageError, type Command } from './cli-args.js';
import { createJsonLogger, errorFields, type JsonLogger } from './log.js';
import { runNode, type RunningNode } from './node-runner.js';
import { stdoutLines } from './stdout-lines.js';
import { packageVersion } from './version.js';

/**
 * `meshlink node …`: runs a node until SIGINT/SIGTERM. Scripts read the first stdout line (the
 * "started" JSON) to learn the node id and the ports picked for port 0; everything after it is JSON
 * log lines. Exit codes: 0 after a signal, 1 on a run-time failure, 2 on bad usage. When stdout's
 * reader goes away (`meshlink node … | head -1`), logging stops and the node keeps running.
 */

/** Longest a graceful stop may take: the switch flushes peers for up to 5 s by default, plus margin. */
const STOP_DEADLINE_MS = 15 * 1000;
/**
 * After a clean stop nothing should keep the process alive. If something still does after this
 * long, it is a bug (a leaked socket or timer): name the open handles and exit anyway.
 */
const EXIT_GRACE_MS = 3 * 1000;
const EXIT_USAGE = 2;
const EXIT_FAILURE = 1;
/** 128 + SIGINT, as shells report an interrupted program. */
const EXIT_FORCED = 130;

function fail(message: string, code: number): void {
  process.stderr.write(`meshlink: ${message}\n`);
  process.exitCode = code;
}

async function main(argv: readonly string[]): Promise<void> {
  let command: Command;
  try {
    command = parseCommandLine(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    return fail(error.message, EXIT_USAGE);
  }
  // A reader that hung up ends our output, never the program (EPIPE would otherwise be unhandled).
  const stdout = stdoutLines(process.stdout);
  if (command.kind === 'help') return stdout.write(USAGE);
  if (command.kind === 'version') return stdout.write(packageVersion());
  const logger = createJsonLogger((line) => stdout.write(line), command.logLevel);
  let node: RunningNode;
  try {
    node = await runNode(command.config, logger.log);
  } catch (error) {
    return fail(`cannot start the node: ${(error as Error).message ?? String(error)}`, EXIT_FAILURE);
  }
  // Handlers first: a script that reads the "started" line may signal at once, and a SIGTERM that found
  // no handler would kill the process without stopping the node (seen once on a loaded CI machine).
  stopOnSignals(node, logger);
  stdout.write(JSON.stringify(node.started));
  logger.release();
}

function stopOnSignals(node: RunningNode, logger: JsonLogger): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      // A second Ctrl-C means "now": skip the flush.
      logger.log('warn', 'exit:forced', { signal });
      process.exit(EXIT_FORCED);
    }
    stopping = true;
    logger.log('info', 'stopping', { signal });
    const deadline = setTimeout(() => {
      fail(`the node did not stop within ${STOP_DEADLINE_MS} ms`, EXIT_FAILURE);
      process.exit();
    }, STOP_DEADLINE_MS);
    deadline.unref();
    node.stop().then(
      () => {
        clearTimeout(deadline);
        logger.log('info', 'stopped');
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        process.exitCode = 0;
        const grace = setTimeout(() => {
          process.stderr.write(
            `meshlink: still running ${EXIT_GRACE_MS} ms after stopping; open handles: ${process.getActiveResourcesInfo().join(', ')}\n`,
          );
          process.exit(0);
        }, EXIT_GRACE_MS);
        // Unref'd: it fires only if something else still holds the process open.
        grace.unref();
      },
      (error: unknown) => {
        clearTimeout(deadline);
        logger.log('error', 'stop:failed', { error: errorFields(error) });
        process.exit(EXIT_FAILURE);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

main(process.argv.slice(2)).catch((error: unknown) => fail(`unexpected error: ${(error as Error).stack ?? String(error)}`, EXIT_FAILURE));
