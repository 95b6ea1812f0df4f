import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '#test-support/cli.js';
import { type EtcdServer, freePort, haveEtcd, startEtcd } from '#test-support/etcd-server.js';
import type { EtcdConnection } from '../etcd/types.js';
import { connectEtcd } from '../etcd/grpc-connection.js';
import { singleKey } from '../etcd/key-range.js';
import type { AnyHandler } from '../handler/handler.js';
import { readMembersFile } from '../sync/members-file.js';
import type { ClusterTarget } from '../sync/cluster-target.js';
import { silentLogger } from '../util/log.js';
import { superviseHttpServer } from './supervise-http-server.js';
import type { SupervisorResult } from './supervisor.js';

// "Run my Node HTTP app under cluster-control" in one call, against a real etcd: the app serves
// the member list of the cluster it watches, read back from its cluster file on every reload.

/** Renders like the json handler's "names" format (core cannot depend on the handlers package). */
const names: AnyHandler = { name: 'names', parseOptions: (o) => o, render: (ms) => JSON.stringify(ms.map((m) => m.name)) + '\n' };

describe.skipIf(!haveEtcd)('superviseHttpServer', () => {
  let etcd: EtcdServer;
  let conn: EtcdConnection;
  let dir: string;
  beforeAll(async () => {
    etcd = await startEtcd();
    conn = await connectEtcd({ endpoints: [etcd.endpoint] });
    dir = await mkdtemp(join(tmpdir(), 'cc-http-app-'));
  });
  afterAll(async () => {
    conn?.close();
    await etcd?.dispose();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const valueOf = async (key: string) => (await conn.range(singleKey(key))).kvs[0]?.value;

  /** An app on 127.0.0.1: GET / answers the db cluster's member names; /healthz answers ok. */
  async function startApp(name: string, overrides: { port?: number } = {}) {
    const port = overrides.port ?? (await freePort());
    const key = `/apps-${name}/web/127.0.0.1:${port}`;
    const target: ClusterTarget = { name: 'db', path: `/apps-${name}/db`, file: join(dir, `${name}.json`), handler: names, handlerOptions: {}, checkTimeoutMs: 1000, minMembers: 0 };
    const journal: string[] = [];
    let databases: string[] = [];
    const load = async () => {
      databases = (await readMembersFile(target.file)).map((m) => m.name);
      journal.push(`load [${databases.join(' ')}]`);
    };
    let readyUrl: string | undefined;
    const result: Promise<SupervisorResult> = superviseHttpServer({
      etcd: { endpoints: [etcd.endpoint] },
      self: { key, value: '{"role":"web"}', ttl: 5 },
      clusters: [{ target }],
      server: {
        host: '127.0.0.1',
        port,
        handler: (req, res) => void res.end(req.url === '/healthz' ? 'ok\n' : JSON.stringify(databases)),
        onStart: load,
        onReload: load,
        onStop: () => void journal.push('stop'),
      },
      readyPath: '/healthz',
      drainMs: 100,
      logger: silentLogger,
      onReady: (url) => (readyUrl = url),
      signals: ['SIGUSR2'],
    });
    return { port, key, target, journal, result, ready: () => readyUrl };
  }

  it('starts, registers once ready, reloads on changes, and deregisters before closing on a signal', async () => {
    await conn.put('/apps-signal/db/10.0.0.5:5432', '');
    const app = await startApp('signal');
    const url = await waitFor(app.ready, { what: 'onReady' });
    expect(url).toBe(`http://127.0.0.1:${app.port}`);
    expect(await valueOf(app.key)).toBe('{"role":"web"}');
    expect(await (await fetch(`${url}/`)).json()).toEqual(['10.0.0.5:5432']);

    await conn.put('/apps-signal/db/10.0.0.6:5432', '');
    await waitFor(async () => (await (await fetch(`${url}/`)).text()) === '["10.0.0.5:5432","10.0.0.6:5432"]', { what: 'the reloaded list' });
    expect(app.journal).toEqual(['load [10.0.0.5:5432]', 'load [10.0.0.5:5432 10.0.0.6:5432]']);

    const listener = process.listeners('SIGUSR2').at(-1) as (signal: NodeJS.Signals) => void;
    listener('SIGUSR2');
    expect(await app.result).toEqual({ end: 'shutdown', exitCode: 0 });
    expect(await valueOf(app.key)).toBeUndefined();
    expect(app.journal.at(-1)).toBe('stop');
    await expect(fetch(`${url}/`)).rejects.toThrow();
    expect(process.listenerCount('SIGUSR2')).toBe(0);
  });

  it("ends with 'removed' and closes the server when an operator deletes the key", async () => {
    const app = await startApp('removed');
    const url = await waitFor(app.ready, { what: 'onReady' });
    await conn.delete(app.key);
    expect(await app.result).toEqual({ end: 'removed', exitCode: 0 });
    await expect(fetch(`${url}/`)).rejects.toThrow();
  });

  it('rejects when the port is taken, registering nothing', async () => {
    const first = await startApp('taken-1');
    await waitFor(first.ready, { what: 'onReady' });
    const second = await startApp('taken-2', { port: first.port });
    await expect(second.result).rejects.toThrow(`cannot listen on 127.0.0.1:${first.port}: listen EADDRINUSE`);
    expect(second.ready()).toBeUndefined();
    expect(await valueOf(second.key)).toBeUndefined();
    await conn.delete(first.key);
    expect(await first.result).toEqual({ end: 'removed', exitCode: 0 });
  });
});
