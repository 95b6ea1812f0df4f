import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ServerProcess, haveServer, startServer } from './server-process.js';

export const HAPROXY_BIN = process.env.HAPROXY_BIN ?? '/usr/sbin/haproxy';

/** Whether integration tests that need haproxy should run (see haveServer). */
export const haveHaproxy = haveServer(HAPROXY_BIN);

export interface Haproxy {
  /** The master's pid file (`-p`): what an operator's reload command reads. */
  readonly pidFile: string;
  readonly masterPid: number;
  readonly server: ServerProcess;
  /** Successful (re)loads so far: 1 after start, +1 per reload. */
  loads(): number;
  /** Resolves once more than `count` loads succeeded; throws if a reload failed meanwhile. */
  waitForLoad(count: number, timeoutMs?: number): Promise<void>;
  /**
   * SIGUSR2 to the master (what `systemctl reload haproxy` does), then waits until it has loaded
   * the files again: a SIGUSR2 that arrives while the master is still reloading is lost.
   */
  reload(): Promise<void>;
  /** Stops master and workers; removes the pid file's temp dir. */
  stop(): Promise<void>;
}

// haproxy's master logs these on stderr after each (re)load, whatever the config's log settings.
const count = (text: string, needle: string) => text.split(needle).length - 1;

/**
 * Runs haproxy in master-worker mode in the foreground (`-W -db`), loading `configFiles` in order
 * (absolute paths: on reload the master re-executes itself and reads them again), and waits until
 * something listens on host:port (a frontend in one of the files must bind there).
 */
export async function startHaproxy(options: { configFiles: string[]; port: number; host?: string }): Promise<Haproxy> {
  const host = options.host ?? '127.0.0.1';
  const dir = await mkdtemp(join(tmpdir(), 'cc-haproxy-'));
  const pidFile = join(dir, 'haproxy.pid');
  const args = ['-W', '-db', '-p', pidFile, ...options.configFiles.flatMap((f) => ['-f', f])];
  let server: ServerProcess;
  try {
    server = await startServer(HAPROXY_BIN, args, { host, port: options.port }, { name: 'haproxy' });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const loads = () => count(server.output(), 'Loading success.');
  const waitForLoad = async (previous: number, timeoutMs = 20_000) => {
    const failures = count(server.output(), 'Loading failure!');
    const deadline = Date.now() + timeoutMs;
    while (loads() <= previous) {
      if (count(server.output(), 'Loading failure!') > failures) throw new Error(`haproxy failed to reload:\n${server.output().slice(-2000)}`);
      if (Date.now() > deadline) throw new Error(`haproxy did not reload within ${timeoutMs} ms:\n${server.output().slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  try {
    await waitForLoad(0);
  } catch (err) {
    await server.stop('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    pidFile,
    masterPid: server.child.pid!,
    server,
    loads,
    waitForLoad,
    async reload() {
      const before = loads();
      server.child.kill('SIGUSR2');
      await waitForLoad(before);
    },
    async stop() {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
