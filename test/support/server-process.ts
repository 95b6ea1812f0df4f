import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';

/**
 * Whether tests that need `binary` should run. Under CI a missing server is a failure (the tests
 * run and fail loudly), never a skip; locally they are skipped.
 */
export function haveServer(binary: string): boolean {
  return existsSync(binary) || process.env.CI === 'true';
}

export interface ServerProcess {
  readonly child: ChildProcess;
  /** stdout and stderr so far, for error messages. */
  output(): string;
  /** SIGTERM (or the given signal), then SIGKILL after 5 s; resolves when it has exited. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Resolves once something accepts TCP connections on host:port. */
export async function waitForPort(host: string, port: number, options: { timeoutMs?: number; what?: string; alive?: () => string | undefined } = {}): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 20_000);
  for (;;) {
    const dead = options.alive?.();
    if (dead) throw new Error(`${options.what ?? 'server'} exited before listening on ${host}:${port}: ${dead}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect({ host, port });
      socket.once('connect', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`${options.what ?? 'server'} did not listen on ${host}:${port} within ${options.timeoutMs ?? 20_000} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Starts a server in the foreground (no daemonizing), waits until it listens on host:port, and
 * returns a handle that stops it. Its output is kept for failure messages.
 */
export async function startServer(
  command: string,
  args: string[],
  ready: { host: string; port: number; timeoutMs?: number },
  options: { env?: NodeJS.ProcessEnv; cwd?: string; name?: string } = {},
): Promise<ServerProcess> {
  if (!existsSync(command)) throw new Error(`${command} not found: install its Debian package (scripts/bootstrap.sh --servers)`);
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env }, cwd: options.cwd });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const handle: ServerProcess = {
    child,
    output: () => out,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
  try {
    await waitForPort(ready.host, ready.port, {
      ...(ready.timeoutMs ? { timeoutMs: ready.timeoutMs } : {}),
      what: options.name ?? command,
      alive: () => (child.exitCode !== null ? `exit ${child.exitCode}: ${out.slice(-2000)}` : undefined),
    });
  } catch (err) {
    await handle.stop('SIGKILL');
    throw err;
  }
  return handle;
}
