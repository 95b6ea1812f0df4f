import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { inspect } from 'node:util';

/** The built CLI, driven as a subprocess exactly as an operator's script would. */
export const CLI_BIN = resolve(import.meta.dirname, '../../packages/cli/bin.cjs');

/**
 * The single executable (`pnpm build:exe`) instead of `node bin.cjs`, when CLUSTER_CONTROL_EXE
 * names it: the `exe` test project runs a subset of the CLI's tests that way.
 */
export const CLI_EXE = process.env.CLUSTER_CONTROL_EXE || undefined;
if (CLI_EXE && !existsSync(CLI_EXE)) throw new Error(`CLUSTER_CONTROL_EXE=${CLI_EXE}: no such file: build it with \`pnpm build:exe\` (npm test does)`);

/** The command and arguments that run the CLI with `args`. */
export function cliCommand(args: readonly string[]): [string, string[]] {
  return CLI_EXE ? [CLI_EXE, [...args]] : [process.execPath, [CLI_BIN, ...args]];
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliProcess {
  readonly child: ChildProcess;
  readonly stdout: () => string;
  readonly stderr: () => string;
  /** Resolves when stderr matches. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<void>;
  exited(timeoutMs?: number): Promise<CliResult>;
  kill(signal?: NodeJS.Signals): void;
}

export function spawnCli(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): CliProcess {
  const child = spawn(...cliCommand(args), {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const exit = new Promise<CliResult>((res) => child.once('close', (code, signal) => res({ code, signal, stdout: out, stderr: err })));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    async waitForLog(pattern, timeoutMs = 20_000) {
      await waitFor(() => pattern.test(err), { timeoutMs, what: `log ${pattern} from cluster-control ${args.join(' ')}; stderr so far:\n${err}` });
    },
    async exited(timeoutMs = 30_000) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, rej) => {
        timer = setTimeout(() => rej(new Error(`cluster-control ${args.join(' ')} did not exit within ${timeoutMs} ms; stderr:\n${err}`)), timeoutMs);
      });
      try {
        return await Promise.race([exit, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    kill(signal = 'SIGTERM') {
      child.kill(signal);
    },
  };
}

export async function runCli(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
  return spawnCli(args, options).exited(options.timeoutMs);
}

/** Polls `check` until it returns true (or a truthy value), or fails with `what`. */
export async function waitFor<T>(check: () => T | Promise<T>, options: { timeoutMs?: number; intervalMs?: number; what?: string } = {}): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 20_000);
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${options.what ?? 'condition'}${last ? ` (last error: ${last instanceof Error ? String(last) : inspect(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 50));
  }
}

export async function tempDir(prefix = 'cc-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export async function writeJson(path: string, value: unknown): Promise<string> {
  await writeFile(path, JSON.stringify(value, null, 2));
  return path;
}
