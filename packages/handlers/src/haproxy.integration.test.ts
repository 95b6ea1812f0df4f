import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { get } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Member } from '@cluster-control/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliProcess, runCli, spawnCli, tempDir, waitFor, writeJson } from '../../../test/support/cli.js';
import { type EtcdServer, freePort, haveEtcd, startEtcd } from '../../../test/support/etcd-server.js';
import { type Haproxy, haveHaproxy, startHaproxy } from '../../../test/support/haproxy.js';
import { type HttpBackend, startHttpBackends } from '../../../test/support/http-backends.js';
import { jsonRecipe, recipe } from '../../../test/support/recipes.js';
import { HAPROXY_BALANCE, HAPROXY_OPTIONS, haproxy as handler } from './haproxy.js';

const run = promisify(execFile);

interface ClusterEntry {
  name: string;
  path: string;
  handlerConfig: { file: string };
  check: string[];
  reload: string[];
}

/** Answers to `count` requests, each on a new connection (a kept-alive one could outlive a reload). */
async function bodies(url: string, count: number): Promise<{ status: number; body: string }[]> {
  const out = [];
  for (let i = 0; i < count; i++) {
    out.push(
      await new Promise<{ status: number; body: string }>((resolve, reject) => {
        get(url, { agent: false }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: body.trim() }));
        }).on('error', reject);
      }),
    );
  }
  return out;
}

/** True once a round of requests is answered by exactly `backends`, each at least once. */
async function servedBy(url: string, backends: HttpBackend[]): Promise<boolean> {
  const seen = new Set((await bodies(url, backends.length * 4)).map((r) => (r.status === 200 ? r.body : `status ${r.status}`)));
  return seen.size === backends.length && backends.every((b) => seen.has(`backend ${b.name}`));
}

// The minimal global/defaults a main haproxy.cfg has before the README's frontend.
const MAIN_CFG = ['global', '    maxconn 256', '', 'defaults', '    mode http', '    timeout connect 5s', '    timeout client 30s', '    timeout server 30s', '', ''].join('\n');

// The README's haproxy recipes, run as written: only /etc/haproxy/ becomes the temp dir, the reload
// script is installed there, it is given the pid file of the haproxy this test runs, and the
// frontend's `bind :80` becomes a free loopback port.
describe.skipIf(!haveEtcd || !haveHaproxy)('haproxy handler against a real haproxy', () => {
  let etcd: EtcdServer;
  let backends: HttpBackend[];
  let dir: string;
  let haproxy: Haproxy | undefined;
  let watcher: CliProcess | undefined;
  let url: string;
  let port: number;
  let entry: ClusterEntry;
  let conf: string;
  let mainCfg: string;

  const local = (text: string) => text.replaceAll('/etc/haproxy/', `${dir}/`);

  beforeAll(async () => {
    etcd = await startEtcd();
    backends = await startHttpBackends(3, 131);
    dir = await tempDir('cc-haproxy-');
    await mkdir(join(dir, 'cluster-control'));
    port = await freePort();
    url = `http://127.0.0.1:${port}/`;
    const frontend = recipe('haproxy-frontend');
    expect(frontend).toContain('    bind :80\n');
    mainCfg = join(dir, 'haproxy.cfg');
    await writeFile(mainCfg, MAIN_CFG + frontend.replace('    bind :80\n', `    bind 127.0.0.1:${port}\n`));
    entry = JSON.parse(local(JSON.stringify(jsonRecipe('haproxy-config')))) as ClusterEntry;
  });

  afterAll(async () => {
    watcher?.kill('SIGKILL');
    await haproxy?.stop();
    await etcd?.dispose();
    await Promise.all((backends ?? []).map((b) => b.close()));
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const put = (b: HttpBackend, meta: Record<string, unknown> = {}) => etcd.ctl('put', `${entry.path}/${b.name}`, JSON.stringify(meta));
  const del = (b: HttpBackend) => etcd.ctl('del', `${entry.path}/${b.name}`);
  /** A failure's message with what haproxy and the watcher said meanwhile. */
  const explain = (waiting: Promise<unknown>) =>
    waiting.catch((err: Error) => {
      throw new Error(`${err.message}\nhaproxy:\n${haproxy?.server.output()}\ncluster-control:\n${watcher?.stderr()}`);
    });
  const serverName = (b: HttpBackend) => b.name.replace(':', '_');

  it('prepare writes a backend that passes the recipe check, and haproxy sends traffic to every member', async () => {
    const [a, b] = backends as [HttpBackend, HttpBackend];
    await put(a, { weight: 2 });
    await put(b, { maxconn: 50 });
    conf = await writeJson(join(dir, 'cluster-control.conf'), { etcd: { endpoints: [etcd.endpoint] }, clusters: [entry] });
    const prepared = await runCli(['--conf', conf, 'prepare', entry.name]);
    expect(prepared.stderr).not.toMatch(/check failed/);
    expect(prepared.code).toBe(0);
    const revision = prepared.stdout.trim();
    expect(revision).toMatch(/^\d+$/);
    const params = 'check inter 2s rise 2 fall 3';
    expect(await readFile(entry.handlerConfig.file, 'utf8')).toBe(
      [
        '# Generated by cluster-control for cluster web. Do not edit.',
        'backend web',
        '    balance roundrobin',
        `    server ${serverName(a)} ${a.name} ${params} weight 2`,
        `    server ${serverName(b)} ${b.name} ${params} maxconn 50`,
        '',
      ].join('\n'),
    );

    // The check cluster-control ran on the staged file, run again here: it passes this file and
    // refuses a broken one, so it is not a no-op.
    const check = (file: string) => entry.check.map((arg) => arg.replaceAll('{src}', file)) as [string, ...string[]];
    const [cmd, ...args] = check(entry.handlerConfig.file);
    await run(cmd, args);
    const broken = join(dir, 'broken.cfg');
    await writeFile(broken, 'backend web\n    server a 127.0.0.1:1 chek\n');
    const [bcmd, ...bargs] = check(broken);
    await expect(run(bcmd, bargs)).rejects.toMatchObject({ stderr: expect.stringMatching(/unknown keyword 'chek'/) });

    // Loaded as the README's /etc/default/haproxy line says: the generated file after the main one.
    const extra = /-f (\S+)"/.exec(recipe('haproxy-default'));
    expect(local(extra?.[1] ?? '')).toBe(entry.handlerConfig.file);
    haproxy = await startHaproxy({ configFiles: [mainCfg, entry.handlerConfig.file], port });
    await waitFor(() => servedBy(url, [a, b]), { what: 'haproxy to reach both members' });

    // The recipe's reload script, installed in the temp dir instead of /usr/local/sbin/, given
    // this haproxy's pid file instead of Debian's /run/haproxy.pid.
    const script = join(dir, 'cluster-control-haproxy-reload');
    await writeFile(script, recipe('haproxy-reload'), { mode: 0o755 });
    expect(entry.reload).toEqual(['/usr/local/sbin/cluster-control-haproxy-reload', '/run/haproxy.pid']);
    entry.reload = [script, haproxy.pidFile];
    await writeJson(conf, { etcd: { endpoints: [etcd.endpoint] }, clusters: [entry] });
    watcher = spawnCli(['--conf', conf, 'watch', entry.name, revision]);
    await watcher.waitForLog(/in sync at revision/);
  });

  it('a membership change in etcd is written, checked and reloaded by the watcher, and haproxy follows it', async () => {
    const [a, b, c] = backends as [HttpBackend, HttpBackend, HttpBackend];
    const loads = haproxy!.loads();
    await put(c, { backup: false });
    await del(a);
    await explain(waitFor(() => servedBy(url, [b, c]), { what: `haproxy to reach only ${b.name} and ${c.name}` }));
    expect(haproxy!.loads()).toBeGreaterThan(loads);
    const text = await readFile(entry.handlerConfig.file, 'utf8');
    expect(text).not.toContain(a.name);
    expect(text).toContain(`    server ${serverName(c)} ${c.name} check inter 2s rise 2 fall 3\n`);
  });

  it('zero members: an empty backend loads, and haproxy answers 503 until a member comes back', async () => {
    const [, b, c] = backends as [HttpBackend, HttpBackend, HttpBackend];
    await del(b);
    await del(c);
    await explain(waitFor(async () => (await bodies(url, 3)).every((r) => r.status === 503), { what: 'haproxy to answer 503 with no members' }));
    expect(await readFile(entry.handlerConfig.file, 'utf8')).toBe(
      ['# Generated by cluster-control for cluster web. Do not edit.', 'backend web', '    balance roundrobin', '    # No members: haproxy answers 503.', ''].join('\n'),
    );
    expect(watcher?.stderr()).not.toMatch(/check failed/);
    await put(b);
    await waitFor(() => servedBy(url, [b]), { what: 'haproxy to reach the member that came back' });
    expect(haproxy?.server.output()).not.toContain('Loading failure!');
    expect(haproxy?.server.child.exitCode).toBeNull();
  });

  it('haproxy -c accepts everything the handler writes: every balance, mode, option, server keyword and meta field, IPv6', async () => {
    const m = (name: string, host: string, port: number | undefined, meta: Record<string, unknown> = {}): Member => ({ name, host, port, key: `/x/${name}`, meta, value: '' });
    const members = [
      m('10.0.0.5:80', '10.0.0.5', 80, { weight: 256, maxconn: 5 }),
      m('[::1]:81', '::1', 81, { weight: 0, backup: true, disabled: true }),
      m('[fd00::6]', 'fd00::6', undefined, { backup: true }),
      m('localhost', 'localhost', undefined, { maxconn: 0 }),
    ];
    const serverParams = { inter: '2s', fastinter: '500ms', downinter: '1m', slowstart: '10s', rise: 1000, fall: 1, maxconn: 1_000_000, maxqueue: 0 };
    const file = join(dir, 'every.cfg');
    // A tcp backend needs a tcp frontend: for mode tcp, the check loads a tcp main config instead.
    const tcpCfg = join(dir, 'haproxy-tcp.cfg');
    await writeFile(tcpCfg, MAIN_CFG.replace('mode http', 'mode tcp') + `frontend web\n    bind 127.0.0.1:${port}\n    default_backend web\n`);
    for (const balance of HAPROXY_BALANCE) {
      for (const mode of ['http', 'tcp', undefined]) {
        for (const list of [members, []]) {
          const options = handler.parseOptions({ balance, mode, defaultPort: 8080, options: [...HAPROXY_OPTIONS], serverParams });
          await writeFile(file, handler.render(list, options, { cluster: 'web', path: '/x' }));
          const argv = entry.check.map((arg) => arg.replaceAll('{src}', file).replace(mainCfg, mode === 'tcp' ? tcpCfg : mainCfg));
          const [cmd, ...args] = argv as [string, ...string[]];
          await expect(run(cmd, args).then(() => 'ok', (e: { stderr: string }) => `${balance} ${mode}: ${e.stderr}`)).resolves.toBe('ok');
        }
      }
    }
  });
});
