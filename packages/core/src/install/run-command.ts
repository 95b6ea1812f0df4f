import { spawn, type ChildProcess } from 'node:child_process';

export interface RunOptions {
  timeoutMs: number;
  /** Full environment of the child; defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface RunResult {
  /** Exited with code 0, in time. */
  ok: boolean;
  code: number | null;
  signal: string | null;
  timedOut: boolean;
  /** stdout and stderr interleaved in arrival order, capped at OUTPUT_LIMIT bytes. */
  output: string;
  /**
   * Why the command could not be started, e.g. `command not found: nginx` (then `code` is 127, as
   * a shell reports it) or `permission denied: ./reload.sh` (126).
   */
  error?: string;
}

/** A shell's exit codes for a command it could not start: not found, or not executable. */
export const EXIT_NOT_FOUND = 127;
export const EXIT_NOT_EXECUTABLE = 126;

/**
 * How a shell reports a command it could not start: `command not found: nginx` and 127 for
 * ENOENT, `permission denied: ./x` and 126 for EACCES (not executable, or a directory); other
 * failures keep their message and have no exit code.
 */
export function startFailure(program: string, err: unknown): { code: number | null; message: string } {
  const errno = (err as NodeJS.ErrnoException | undefined)?.code;
  if (errno === 'ENOENT') return { code: EXIT_NOT_FOUND, message: `command not found: ${program}` };
  if (errno === 'EACCES') return { code: EXIT_NOT_EXECUTABLE, message: `permission denied: ${program}` };
  return { code: null, message: err instanceof Error ? err.message : String(err) };
}

export const OUTPUT_LIMIT = 64 * 1024;
/** Time between SIGTERM and SIGKILL for a command that overran its timeout. */
export const KILL_GRACE_MS = 2000;
/**
 * After the command exits, how long to wait for its pipes to close. A reload that starts a daemon
 * can leave the daemon holding our stdout; we must not wait for the daemon to exit.
 */
const PIPE_DRAIN_MS = 200;

/** Runs argv without a shell, in its own process group. Never throws; failures are in the result. */
export function runCommand(argv: readonly string[], options: RunOptions): Promise<RunResult> {
  return new Promise((resolve) => {
    const [file, ...args] = argv;
    if (file === undefined || file === '') {
      resolve({ ok: false, code: null, signal: null, timedOut: false, output: '', error: 'empty command' });
      return;
    }

    const chunks: Buffer[] = [];
    let kept = 0;
    let dropped = 0;
    const collect = (chunk: Buffer) => {
      const room = OUTPUT_LIMIT - kept;
      if (room > 0) {
        const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
        chunks.push(part);
        kept += part.length;
      }
      dropped += Math.max(0, chunk.length - Math.max(room, 0));
    };
    const output = () => {
      const text = Buffer.concat(chunks).toString('utf8');
      return dropped > 0 ? `${text}\n[... ${dropped} more bytes of output dropped]` : text;
    };

    let child: ChildProcess;
    try {
      // detached: the child leads a new process group, so a timeout can kill `sh -c` and its children.
      child = spawn(file, args, {
        cwd: options.cwd,
        env: options.env ?? process.env,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (err) {
      const { code, message } = startFailure(file, err);
      resolve({ ok: false, code, signal: null, timedOut: false, output: '', error: message });
      return;
    }
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);

    let timedOut = false;
    let exit: { code: number | null; signal: string | null } | undefined;
    let drainTimer: NodeJS.Timeout | undefined;
    let settled = false;

    const killGroup = (signal: NodeJS.Signals) => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, signal);
      } catch {
        // ESRCH: the whole group is already gone.
      }
    };

    const timeout = setTimeout(() => {
      timedOut = true;
      killGroup('SIGTERM');
      // Not cleared on exit: group members may outlive the leader. Unref'd so it never holds the process.
      setTimeout(() => killGroup('SIGKILL'), KILL_GRACE_MS).unref();
    }, options.timeoutMs);

    const finish = (error?: { code: number | null; message: string }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timeout);
      clearTimeout(drainTimer);
      child.stdout?.destroy();
      child.stderr?.destroy();
      const code = exit?.code ?? error?.code ?? null;
      const signal = exit?.signal ?? null;
      const result: RunResult = { ok: !error && !timedOut && code === 0, code, signal, timedOut, output: output() };
      if (error) result.error = error.message;
      resolve(result);
    };

    child.on('error', (err) => {
      // Only a failed spawn ends the run here; once it started, 'exit'/'close' report the outcome.
      if (child.pid === undefined) finish(startFailure(file, err));
    });
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      clearTimeout(timeout);
      drainTimer = setTimeout(() => finish(), PIPE_DRAIN_MS);
    });
    child.on('close', (code, signal) => {
      exit ??= { code, signal };
      finish();
    });
  });
}

/** One-line reason for a failed run, for logs: "exited with code 3", "timed out after 5000 ms", ... */
export function describeFailure(result: RunResult, timeoutMs: number): string {
  if (result.error) return `could not be started: ${result.error}${result.code !== null ? ` (exit ${result.code})` : ''}`;
  if (result.timedOut) return `timed out after ${timeoutMs} ms`;
  if (result.signal) return `was killed by ${result.signal}`;
  return `exited with code ${result.code}`;
}

/**
 * The first line with text, at most 300 characters: what a quarantine reason, a status record or a
 * failed reload shows of an output or error. `fallback` when there is none.
 */
export function firstLine(text: string, fallback = ''): string {
  const line =
    text
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l !== '') ?? fallback;
  return line.length > 300 ? `${line.slice(0, 297)}...` : line;
}

/** Shortens command output for a log line or a result, keeping the start (where errors usually begin). */
export function truncateOutput(text: string, limit = 4096): string {
  return text.length <= limit ? text : `${text.slice(0, limit)}\n[... ${text.length - limit} more characters]`;
}
