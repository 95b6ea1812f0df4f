import { describe, expect, it } from 'vitest';
import type { EtcdConnection } from '../etcd/types.js';
import type { Logger } from '../util/log.js';
import { runSupervisor } from './run-supervisor.js';
import type { SupervisedService } from './service.js';
import { Supervisor } from './supervisor.js';

// No etcd: a Supervisor with no clusters and no key of its own never calls it, so these runs
// exercise the signal handling and the ready callback alone. Signals are delivered by calling
// the installed listener, never by signalling the test process.

function recorder(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const at = (level: string) => (message: string) => void lines.push(`${level}: ${message}`);
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

function fakeService(journal: string[], startError?: Error) {
  let exit!: (code: number) => void;
  const service: SupervisedService & { exit: (code: number) => void } = {
    exited: new Promise<number>((resolve) => (exit = resolve)),
    exit: (code) => exit(code),
    async start() {
      journal.push('start');
      if (startError) throw startError;
    },
    async stop() {
      journal.push('stop');
      exit(0);
      return 0;
    },
  };
  return service;
}

const supervisorFor = (service: SupervisedService, logger: Logger) => new Supervisor({ etcd: {} as EtcdConnection, clusters: [], service, logger });

/** Delivers `signal` to the listener runSupervisor added (the newest one). */
function deliver(signal: NodeJS.Signals): void {
  const listener = process.listeners(signal).at(-1);
  if (!listener) throw new Error(`no ${signal} listener`);
  listener(signal);
}

const until = async (condition: () => boolean) => {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  if (!condition()) throw new Error('timed out');
};

describe('runSupervisor', () => {
  it('calls onReady once, shuts down on SIGTERM and SIGINT, and removes its handlers afterwards', async () => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const before = { SIGTERM: process.listenerCount('SIGTERM'), SIGINT: process.listenerCount('SIGINT') };
      const journal: string[] = [];
      const logger = recorder();
      const supervisor = supervisorFor(fakeService(journal), logger);
      let ready = 0;
      const run = runSupervisor(supervisor, { logger, onReady: () => void ready++ });
      expect(process.listenerCount('SIGTERM')).toBe(before.SIGTERM + 1);
      expect(process.listenerCount('SIGINT')).toBe(before.SIGINT + 1);
      await until(() => ready > 0);
      expect(supervisor.readiness().ready).toBe(true);
      deliver(signal);
      expect(await run).toEqual({ end: 'shutdown', exitCode: 0 });
      expect(ready).toBe(1);
      expect(journal).toEqual(['start', 'stop']);
      expect(logger.lines).toContain(`info: ${signal}: shutting down`);
      expect(logger.lines.at(-1)).toBe('info: stopped (shutdown); exit code 0');
      expect(process.listenerCount('SIGTERM')).toBe(before.SIGTERM);
      expect(process.listenerCount('SIGINT')).toBe(before.SIGINT);
    }
  });

  it('takes other signals when asked', async () => {
    const before = process.listenerCount('SIGTERM');
    const logger = recorder();
    const supervisor = supervisorFor(fakeService([]), logger);
    const run = runSupervisor(supervisor, { logger, signals: ['SIGUSR2'] });
    expect(process.listenerCount('SIGTERM')).toBe(before);
    await supervisor.whenReady();
    deliver('SIGUSR2');
    expect(await run).toEqual({ end: 'shutdown', exitCode: 0 });
    expect(process.listenerCount('SIGUSR2')).toBe(0);
  });

  it('passes on the exit code of a service that ends by itself', async () => {
    const logger = recorder();
    const service = fakeService([]);
    const supervisor = supervisorFor(service, logger);
    const run = runSupervisor(supervisor, { logger });
    await supervisor.whenReady();
    service.exit(3);
    expect(await run).toEqual({ end: 'service-exited', exitCode: 3 });
  });

  it('shuts down a supervisor still being created when the signal arrives: the service never starts', async () => {
    const journal: string[] = [];
    const logger = recorder();
    let ready = false;
    const run = runSupervisor(
      async () => {
        deliver('SIGTERM'); // e.g. while connecting to etcd
        return supervisorFor(fakeService(journal), logger);
      },
      { logger, onReady: () => (ready = true) },
    );
    expect(await run).toEqual({ end: 'shutdown', exitCode: 0 });
    expect(journal).toEqual([]);
    expect(ready).toBe(false);
  });

  it('counts a failure after a signal as a clean shutdown', async () => {
    const logger = recorder();
    const run = runSupervisor(
      async () => {
        deliver('SIGINT');
        throw new Error('etcd unavailable:\n  connection refused');
      },
      { logger },
    );
    expect(await run).toEqual({ end: 'shutdown', exitCode: 0 });
    expect(logger.lines.at(-1)).toBe('info: stopped before registering (etcd unavailable: connection refused)');
  });

  it('rejects on a failure without a signal, and removes its handlers', async () => {
    const before = process.listenerCount('SIGTERM');
    const logger = recorder();
    const journal: string[] = [];
    await expect(runSupervisor(supervisorFor(fakeService(journal, new Error('cannot listen')), logger), { logger })).rejects.toThrow('cannot listen');
    expect(journal).toEqual(['start']);
    expect(process.listenerCount('SIGTERM')).toBe(before);
  });

  it('logs a failing onReady and runs on', async () => {
    const logger = recorder();
    const supervisor = supervisorFor(fakeService([]), logger);
    const run = runSupervisor(supervisor, {
      logger,
      onReady: () => {
        throw new Error('stderr closed');
      },
    });
    await until(() => logger.lines.includes('error: onReady: stderr closed'));
    supervisor.shutdown();
    expect(await run).toEqual({ end: 'shutdown', exitCode: 0 });
  });
});
