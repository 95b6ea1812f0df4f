import { createRequire } from 'node:module';
import { CommanderError } from 'commander';
import { ErrorCode, type Logger, createLogger, hasErrorCode } from '@cluster-control/core';
import { describeError } from '@cluster-control/core/util';
import { handleSignals } from '@cluster-control/core/supervisor';
import { CommandContext, type GlobalOptions } from './context.js';
import { buildProgram, type Run } from './program.js';

export { buildProgram } from './program.js';

// Required, not read from disk: the bundle (scripts/bundle.mjs) carries it, and the single executable has no disk.
const { version } = createRequire(import.meta.url)('../package.json') as { version: string };

/**
 * Errors whose message is the whole story, by code, and the exit code each ends the CLI with
 * (the table in the core README). Codes rather than classes: they hold across copies of core.
 */
const DESCRIBED_ERRORS: ReadonlyMap<ErrorCode, number> = new Map([
  [ErrorCode.CC_CONFIG_INVALID, 2],
  [ErrorCode.CC_USAGE, 2],
  [ErrorCode.CC_RUNTIME, 1],
  [ErrorCode.CC_SUPERVISOR, 1],
  [ErrorCode.CC_ETCD_UNAVAILABLE, 1],
  // EtcdAccessError and its subclasses.
  [ErrorCode.CC_ETCD_ACCESS, 1],
  [ErrorCode.CC_ETCD_ENDPOINT, 1],
  [ErrorCode.CC_ETCD_NO_GATEWAY, 1],
]);

/** Exit code and one-line message for an error that reached the top. */
export function exitCodeFor(err: unknown): { code: number; message: string } {
  if (hasErrorCode(err, ...DESCRIBED_ERRORS.keys())) return { code: DESCRIBED_ERRORS.get(err.code)!, message: err.message };
  return { code: 1, message: `unexpected error: ${describeError(err)}` };
}

/** The last line of a failed command: `cluster-control: message`, or a JSON log record under `--log-format json`. */
function writeFailure(message: string, format: GlobalOptions['logFormat']): void {
  if (format === 'json') createLogger({ format: 'json' }).error(message);
  else process.stderr.write(`cluster-control: ${message}\n`);
}

/**
 * SIGHUP would kill a command that does not handle it itself (the one-shot ones, or any command
 * while its configuration loads). Logged and ignored instead; a command with its own handler
 * (watch re-reads its configuration, run forwards it) is left to that handler.
 */
function ignoreHangup(logger: () => Logger | undefined): () => void {
  const onHangup = () => {
    if (process.listenerCount('SIGHUP') > 1) return;
    const log = logger();
    if (log) log.info('SIGHUP ignored');
    else process.stderr.write('cluster-control: SIGHUP ignored\n');
  };
  const handling = handleSignals({ stop: [], hangup: onHangup });
  return () => handling.dispose();
}

/** Runs the CLI; resolves to the process exit code. Never throws. */
export async function main(argv: readonly string[]): Promise<number> {
  let exitCode = 0;
  const dispatch = async (globals: GlobalOptions, run: Run) => {
    let ctx: CommandContext | undefined;
    const stopIgnoringHangup = ignoreHangup(() => ctx?.logger);
    try {
      ctx = await CommandContext.create(globals);
      exitCode = await run(ctx);
    } catch (err) {
      const { code, message } = exitCodeFor(err);
      writeFailure(message, globals.logFormat);
      if (globals.verbose && err instanceof Error && code === 1 && err.stack) process.stderr.write(err.stack + '\n');
      exitCode = code;
    } finally {
      ctx?.close();
      stopIgnoringHangup();
    }
  };
  const program = buildProgram(version, dispatch);
  try {
    await program.parseAsync([...argv]);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version "fail" with exit code 0; every real usage error is exit 2.
      return err.exitCode === 0 ? 0 : 2;
    }
    throw err;
  }
  return exitCode;
}

/**
 * A reader that went away (`cluster-control --help | head -1`) is no error of the command: further
 * output is dropped and the command ends as it would have, rather than dying on an unhandled EPIPE.
 * `run` in particular must not lose its child because a log pipe closed.
 */
function ignoreClosedOutput(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') throw err;
    });
  }
}

/**
 * The process entry: runs the CLI with `argv` and sets the exit code. Calls still waiting on an
 * unresponsive etcd (each until its deadline) must not hold the exit: `run` passes its child's
 * exit code on promptly (README: One process instead of the startup script: `run`). The timer
 * is unref'd, so it never delays an exit that would happen anyway.
 */
export async function runCli(argv: readonly string[]): Promise<void> {
  ignoreClosedOutput();
  process.exitCode = await main(argv);
  setTimeout(() => process.exit(), 200).unref();
}
