import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EtcdServer, freePort, haveEtcd, startEtcd } from '#test-support/etcd-server.js';
import type { LbReport } from './report.js';

// The three demo apps as real processes (their built dist/main.js) against a real etcd:
// 2 databases, 2 web servers and 1 load balancer, each on its own 127.0.0.x address.

const ROOT = resolve(import.meta.dirname, '../../..');
const READY = /^ready (http:\/\/\S+)$/m;

type App = 'db' | 'web' | 'lb';
const KIND: Record<App, string> = { db: 'dbserver', web: 'webserver', lb: 'loadbalancer' };

interface AppProcess {
  readonly child: ChildProcess;
  readonly name: string;
  readonly url: string;
  readonly key: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
}

let etcd: EtcdServer;
const prefix = `/clusterdemo-it-${randomBytes(4).toString('hex')}`;
const started: AppProcess[] = [];

async function startApp(app: App, host: string, extra: string[] = []): Promise<AppProcess> {
  const port = await freePort(host);
  const name = `${host}:${port}`;
  const child = spawn(process.execPath, [resolve(ROOT, `apps/demo-${app}/dist/main.js`), '--host', host, '--port', String(port), '--etcd', etcd.endpoint, '--prefix', prefix, '--ttl', '5', ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stdout.resume();
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.once('exit', (code, signal) => res({ code, signal })));
  const proc: AppProcess = { child, name, url: `http://${name}`, key: `${prefix}/${KIND[app]}/${name}`, exited, stderr: () => stderr };
  started.push(proc);
  const ready = await Promise.race([
    new Promise<string>((res) => {
      const check = () => {
        const m = READY.exec(stderr);
        if (m) res(m[1]!);
        else setTimeout(check, 25);
      };
      check();
    }),
    exited.then(({ code }) => {
      throw new Error(`demo-${app} exited with ${code} before it was ready:\n${stderr}`);
    }),
  ]);
  expect(ready).toBe(proc.url);
  return proc;
}

async function stopApp(proc: AppProcess, signal: NodeJS.Signals = 'SIGTERM') {
  proc.child.kill(signal);
  return proc.exited;
}

async function eventually<T>(what: string, fn: () => Promise<T>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms: ${err instanceof Error ? err.message : String(err)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function getText(url: string): Promise<{ status: number; type: string; body: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.text() };
}

async function getJson<T>(url: string): Promise<T> {
  const { status, body } = await getText(url);
  expect(status).toBe(200);
  return JSON.parse(body) as T;
}

async function keys(): Promise<string[]> {
  const out = await etcd.ctl('get', prefix + '/', '--prefix', '--keys-only');
  return out
    .split('\n')
    .filter((line) => line !== '')
    .sort();
}

/** An open /events stream: the `report` events parsed as they arrive. */
async function openEvents(url: string) {
  const controller = new AbortController();
  const res = await fetch(`${url}/events`, { signal: controller.signal });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const reports: LbReport[] = [];
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const reading = (async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const lines = block.split('\n');
        if (!lines.includes('event: report')) continue;
        const data = lines
          .filter((l) => l.startsWith('data: '))
          .map((l) => l.slice(6))
          .join('\n');
        reports.push(JSON.parse(data) as LbReport);
      }
    }
  })().catch(() => {});
  return {
    reports,
    /** Resolves with the first report (received so far or later) that satisfies `test`. */
    waitFor: (what: string, test: (r: LbReport) => boolean) =>
      eventually(what, async () => {
        const found = reports.find(test);
        if (!found) throw new Error(`${reports.length} report event(s), none matching`);
        return found;
      }),
    close: async () => {
      controller.abort();
      await reading;
    },
  };
}

const sameIds = (r: LbReport, webs: readonly AppProcess[], ids: readonly string[]) =>
  r.consistent &&
  JSON.stringify(r.databases) === JSON.stringify(ids) &&
  JSON.stringify(r.webServers.map((w) => w.name)) === JSON.stringify(webs.map((w) => w.name)) &&
  r.webServers.every((w) => w.agrees && w.error === undefined && JSON.stringify(w.databases) === JSON.stringify(ids));

describe.skipIf(!haveEtcd)('demo apps: load balancer → web servers → databases', () => {
  let db1: AppProcess;
  let db2: AppProcess;
  let web1: AppProcess;
  let web2: AppProcess;
  let lb: AppProcess;
  // One id that would be markup if it were not escaped.
  const ID1 = 'db-a';
  const ID2 = 'db-<b>';
  const BOTH = [ID2, ID1]; // '<' sorts before 'a'

  beforeAll(async () => {
    etcd = await startEtcd();
    [db1, db2] = await Promise.all([startApp('db', '127.0.0.2', ['--id', ID1]), startApp('db', '127.0.0.3', ['--id', ID2])]);
    [web1, web2] = await Promise.all([startApp('web', '127.0.0.4'), startApp('web', '127.0.0.5')]);
    lb = await startApp('lb', '127.0.0.6');
  });

  afterAll(async () => {
    for (const proc of started) if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGKILL');
    await Promise.all(started.map((p) => p.exited));
    await etcd?.dispose();
  });

  it('every app registers its key; a database answers its id', async () => {
    expect(await keys()).toEqual([db1.key, db2.key, lb.key, web1.key, web2.key].sort());
    expect((await etcd.ctl('get', db2.key, '--print-value-only')).trim()).toBe(JSON.stringify({ id: ID2 }));
    expect((await etcd.ctl('get', web1.key, '--print-value-only')).trim()).toBe('{}');
    expect(await getJson(`${db1.url}/`)).toEqual({ id: ID1, name: db1.name });
  });

  it('a web server reports every database', async () => {
    const report = await eventually('web1 seeing both databases', async () => {
      const r = await getJson<{ name: string; databases: unknown[] }>(`${web1.url}/report`);
      expect(r.databases).toHaveLength(2);
      return r;
    });
    expect(report).toEqual({
      name: web1.name,
      databases: [
        { name: db1.name, id: ID1 },
        { name: db2.name, id: ID2 },
      ],
    });
    expect(await getJson(`${web1.url}/`)).toEqual(report);
  });

  it('/report.json converges to both web servers listing both databases', async () => {
    const report = await eventually('a consistent report', async () => {
      const r = await getJson<LbReport>(`${lb.url}/report.json`);
      if (!sameIds(r, [web1, web2], BOTH)) throw new Error(JSON.stringify(r));
      return r;
    });
    expect(report).toEqual({
      loadBalancer: lb.name,
      generatedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      webServers: [
        { name: web1.name, databases: BOTH, agrees: true },
        { name: web2.name, databases: BOTH, agrees: true },
      ],
      databases: BOTH,
      consistent: true,
    });
  });

  it('/report.txt and the HTML page show the rows', async () => {
    const text = await getText(`${lb.url}/report.txt`);
    expect(text.status).toBe(200);
    expect(text.type).toMatch(/^text\/plain/);
    expect(text.body).toBe(`${web1.name}  ${BOTH.join(',')}\n${web2.name}  ${BOTH.join(',')}\nweb servers: 2, databases: 2, consistent: yes\n`);

    const page = await getText(`${lb.url}/`);
    expect(page.status).toBe(200);
    expect(page.type).toMatch(/^text\/html/);
    expect(page.body).toContain('<title>cluster-control demo</title>');
    for (const web of [web1, web2]) expect(page.body).toContain(`<tr class="row" data-web="${web.name}"><td class="name">${web.name}</td>`);
    expect(page.body).toContain('<span class="chip">db-&lt;b&gt;</span><span class="chip">db-a</span>');
    expect(page.body).not.toContain('db-<b>');
    expect(page.body).toContain('<span id="consistency" class="badge ok">consistent</span>');
  });

  it('/events sends the report at once', async () => {
    const events = await openEvents(lb.url);
    try {
      const first = await events.waitFor('a report event', () => true);
      expect(first.loadBalancer).toBe(lb.name);
      expect(sameIds(first, [web1, web2], BOTH)).toBe(true);
    } finally {
      await events.close();
    }
  });

  it('a database stopped with SIGTERM exits 0, its key is revoked at once, and the report converges again', async () => {
    const events = await openEvents(lb.url);
    try {
      await events.waitFor('the first report event', () => true);
      expect(await stopApp(db2)).toEqual({ code: 0, signal: null });
      expect(db2.stderr()).toMatch(/deregistered/);
      expect(await keys()).not.toContain(db2.key);
      await eventually('a report without the stopped database', async () => {
        const r = await getJson<LbReport>(`${lb.url}/report.json`);
        if (!sameIds(r, [web1, web2], [ID1])) throw new Error(JSON.stringify(r));
      });
      // ... and the open event stream told about it without being asked.
      await events.waitFor('a report event without the stopped database', (r) => sameIds(r, [web1, web2], [ID1]));
    } finally {
      await events.close();
    }
  });

  it('a web server whose key an operator deletes stops by itself with exit code 0', async () => {
    await etcd.ctl('del', web2.key);
    expect(await web2.exited).toEqual({ code: 0, signal: null });
    expect(web2.stderr()).toMatch(/removed/);
    const report = await eventually('a report without the removed web server', async () => {
      const r = await getJson<LbReport>(`${lb.url}/report.json`);
      if (!sameIds(r, [web1], [ID1])) throw new Error(JSON.stringify(r));
      return r;
    });
    expect(report.webServers).toEqual([{ name: web1.name, databases: [ID1], agrees: true }]);
  });

  it('every process exits 0 on SIGTERM and no keys are left', async () => {
    const results = await Promise.all([lb, web1, db1].map((p) => stopApp(p)));
    expect(results).toEqual([
      { code: 0, signal: null },
      { code: 0, signal: null },
      { code: 0, signal: null },
    ]);
    expect(await keys()).toEqual([]);
    for (const proc of started) {
      expect(proc.stderr().match(/^ready http:\/\/\S+$/gm)).toEqual([proc.url.replace(/^/, 'ready ')]);
      expect(proc.stderr()).not.toMatch(/still running 2 s after stopping/);
    }
  });
});
