import { mkdtemp, readFile } from 'node:fs/promises';
import { type Server, createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { waitFor } from '#test-support/cli.js';
import { freePort, haveEtcd } from '#test-support/etcd-server.js';
import { useEtcdConnection } from '#test-support/etcd-fixture.js';
import type { EtcdConnection } from '../etcd/types.js';
import { connectEtcd } from '../etcd/grpc-connection.js';
import { singleKey } from '../etcd/key-range.js';
import type { AnyHandler } from '../handler/handler.js';
import { silentLogger } from '../util/log.js';
import { httpProbe } from './readiness.js';
import type { SupervisedService } from './service.js';
import { Supervisor } from './supervisor.js';

const lines: AnyHandler = { name: 'lines', parseOptions: (o) => o, render: (ms) => ms.map((m) => m.name).join('\n') + '\n' };

/** The embedding application itself as the supervised service: an HTTP server in this process. */
function embeddedServer(port: number, journal: string[], isRegistered: () => Promise<boolean>) {
  let server: Server | undefined;
  let exit!: (code: number) => void;
  const service: SupervisedService = {
    exited: new Promise<number>((resolve) => (exit = resolve)),
    async start() {
      server = createServer((_, res) => res.end('ok'));
      await new Promise<void>((resolve) => server!.listen(port, '127.0.0.1', resolve));
    },
    async stop() {
      journal.push(`stop (registered: ${await isRegistered()})`);
      await new Promise<void>((resolve) => server!.close(() => resolve()));
      exit(0);
      return 0;
    },
    reload(cluster) {
      journal.push(`reload ${cluster}`);
    },
  };
  return service;
}

// The Supervisor as an API: what `cluster-control run` does, for a Node app without a child process.
describe.skipIf(!haveEtcd)('Supervisor embedded in a Node application', () => {
  let conn: EtcdConnection;
  useEtcdConnection(
    (endpoint) => connectEtcd({ endpoints: [endpoint] }),
    (started) => (conn = started.conn),
  );

  async function setup(name: string) {
    const dir = await mkdtemp(join(tmpdir(), 'cc-embed-'));
    const port = await freePort();
    const key = `/clusters/embed-${name}/127.0.0.1:${port}`;
    const journal: string[] = [];
    const isRegistered = async () => (await conn.range(singleKey(key))).kvs.length > 0;
    const target = { name: 'db', path: `/clusters/embed-${name}-db`, file: join(dir, 'db.txt'), handler: lines, handlerOptions: {}, checkTimeoutMs: 1000, minMembers: 0 };
    const supervisor = new Supervisor({
      etcd: conn,
      clusters: [{ target }],
      self: { key, value: '', ttl: 5, heartbeat: 1 },
      service: embeddedServer(port, journal, isRegistered),
      ready: httpProbe(`http://127.0.0.1:${port}/`),
      drainMs: 200,
      logger: silentLogger,
    });
    return { supervisor, journal, isRegistered, target, key };
  }

  it('registers when ready, reloads the app after replacements, and deregisters before stopping it', async () => {
    const { supervisor, journal, isRegistered, target } = await setup('shutdown');
    const running = supervisor.run();
    await waitFor(() => supervisor.readiness().ready, { what: 'ready' });
    expect(await isRegistered()).toBe(true);
    await conn.put(`${target.path}/10.0.0.7:5432`, '');
    await waitFor(async () => (await readFile(target.file, 'utf8')) === '10.0.0.7:5432\n', { what: 'the file' });
    await waitFor(() => journal.includes('reload db'), { what: 'the reload callback' });
    supervisor.shutdown();
    expect(await running).toEqual({ end: 'shutdown', exitCode: 0 });
    expect(journal.at(-1)).toBe('stop (registered: false)');
  });

  it("ends with 'removed' when an operator deletes the key", async () => {
    const { supervisor, journal, key } = await setup('removed');
    const running = supervisor.run();
    await waitFor(() => supervisor.readiness().ready, { what: 'ready' });
    await conn.delete(key);
    expect(await running).toEqual({ end: 'removed', exitCode: 0 });
    expect(journal.at(-1)).toBe('stop (registered: false)');
  });
});
