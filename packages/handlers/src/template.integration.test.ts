import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliProcess, runCli, spawnCli, tempDir, waitFor, writeJson } from '#test-support/cli.js';
import { type EtcdServer, freePort, haveEtcd, startEtcd } from '#test-support/etcd-server.js';
import { type HttpBackend, startHttpBackends } from '#test-support/http-backends.js';
import { recipe } from '#test-support/recipes.js';
import { type ServerProcess, haveServer, startServer } from '#test-support/server-process.js';

const HAPROXY = '/usr/sbin/haproxy';

/** One line on stderr, exit 2, no stack trace. */
function expectConfigError(res: { code: number | null; stderr: string }, pattern: RegExp) {
  expect(res.code).toBe(2);
  const lines = res.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
}

// The README's template recipe, run by the built CLI against a real etcd: `prepare` renders a whole
// HAProxy config (checked by `haproxy -c` before it is installed), HAProxy serves it, and `watch`
// re-renders on changes and reloads HAProxy through the recipe's own reload command.
describe.skipIf(!haveEtcd || !haveServer(HAPROXY))('template handler: README recipe through the CLI', () => {
  let etcd: EtcdServer;
  let backends: HttpBackend[] = [];
  let haproxy: ServerProcess | undefined;
  const watchers: CliProcess[] = [];

  beforeAll(async () => {
    etcd = await startEtcd();
    backends = await startHttpBackends(3, 141);
  });
  afterAll(async () => {
    for (const w of watchers) w.kill('SIGKILL');
    await haproxy?.stop();
    await Promise.all(backends.map((b) => b.close()));
    await etcd?.dispose();
  });

  it('renders the recipe, serves traffic through it, re-renders and reloads on changes', async () => {
    const dir = await tempDir('cc-template-');
    const port = await freePort();
    // The only substitutions: the recipe's /etc/haproxy/, /usr/local/sbin/ and /run/haproxy.pid
    // paths become the temp dir, and its bind address a free loopback port.
    const cluster = JSON.parse(
      recipe('template-config')
        .replaceAll('/etc/haproxy/', `${dir}/`)
        .replaceAll('/run/haproxy.pid', `${dir}/haproxy.pid`)
        .replaceAll('/usr/local/sbin/', `${dir}/`)
        .replace('"*:80"', `"127.0.0.1:${port}"`),
    ) as { name: string; handlerConfig: { file: string; templateFile: string } };
    expect(cluster.handlerConfig.file).toBe(join(dir, 'haproxy.cfg'));
    await writeFile(cluster.handlerConfig.templateFile, recipe('template-upstreams'));
    await writeFile(join(dir, 'cluster-control-haproxy-reload'), recipe('haproxy-reload'), { mode: 0o755 });
    const conf = await writeJson(join(dir, 'cluster-control.conf'), { etcd: { endpoints: [etcd.endpoint] }, clusters: [cluster] });
    const cfg = cluster.handlerConfig.file;

    const [b1, b2, b3] = backends as [HttpBackend, HttpBackend, HttpBackend];
    await etcd.ctl('put', `/clusters/web/${b1.name}`, JSON.stringify({ weight: 3, zone: 'a' }));
    // A weight trying to add a server line of its own: refused, so the default applies.
    await etcd.ctl('put', `/clusters/web/${b2.name}`, JSON.stringify({ weight: `2\n    server evil 127.0.0.1:9 weight 256` }));

    const expected = (servers: string[]) =>
      [
        `# Written by cluster-control from /clusters/web (${servers.length} member(s)); do not edit.`,
        'global',
        '    maxconn 4096',
        '',
        'defaults',
        '    mode http',
        '    timeout connect 5s',
        '    timeout client 30s',
        '    timeout server 30s',
        '',
        'frontend www',
        `    bind 127.0.0.1:${port}`,
        '    default_backend web',
        '',
        'backend web',
        '    balance roundrobin',
        ...servers.map((s) => `    server ${s}`),
        '',
      ].join('\n');

    const prepared = await runCli(['--conf', conf, 'prepare', 'web']);
    expect(prepared.stderr).not.toMatch(/check failed/);
    expect(prepared.code).toBe(0);
    expect(prepared.stdout).toMatch(/^\d+\n$/);
    expect(prepared.stderr).toMatch(new RegExp(`member ${b2.name.replaceAll('.', '\\.')}: meta\\.weight ignored`));
    expect(await readFile(cfg, 'utf8')).toBe(expected([`${b1.name} ${b1.name} weight 3 check`, `${b2.name} ${b2.name} weight 1 check`]));

    // HAProxy in master-worker mode, in the foreground, on the file cluster-control wrote.
    const pidFile = join(dir, 'haproxy.pid');
    haproxy = await startServer(HAPROXY, ['-W', '-db', '-f', cfg, '-p', pidFile], { host: '127.0.0.1', port }, { name: 'haproxy' });
    await waitFor(() => existsSync(pidFile), { what: 'the haproxy pid file' });
    const seen = new Set<string>();
    const get = async () => {
      const res = await fetch(`http://127.0.0.1:${port}/`);
      const body = await res.text();
      if (res.ok) seen.add(body.trim());
      return res.status;
    };
    await waitFor(async () => (await get(), seen.has(`backend ${b1.name}`) && seen.has(`backend ${b2.name}`)), { what: `traffic to both backends (seen: ${[...seen].join(', ')})` });

    const watcher = spawnCli(['--conf', conf, 'watch', 'web', prepared.stdout.trim()]);
    watchers.push(watcher);
    await watcher.waitForLog(/in sync at revision/);
    // HAProxy 2.6's master re-executes itself on USR2 and can miss a second USR2 arriving
    // meanwhile, so each change waits for the previous reload to have loaded.
    const reloaded = (n: number) => waitFor(() => (haproxy!.output().match(/Loading success/g) ?? []).length === n + 1, { what: `haproxy reload #${n}` });

    // A weight above HAProxy's 256 is clamped by the template.
    await etcd.ctl('put', `/clusters/web/${b3.name}`, JSON.stringify({ weight: 500, backup: false }));
    await waitFor(async () => (await readFile(cfg, 'utf8')).includes(b3.name), { what: 'the third member in the file' });
    expect(await readFile(cfg, 'utf8')).toBe(expected([`${b1.name} ${b1.name} weight 3 check`, `${b2.name} ${b2.name} weight 1 check`, `${b3.name} ${b3.name} weight 256 check`]));
    // Reloaded by the recipe's reload: the new worker sends traffic to the new member.
    await waitFor(async () => (await get(), seen.has(`backend ${b3.name}`)), { what: 'traffic to the third backend after the reload' });
    await reloaded(1);

    await etcd.ctl('put', `/clusters/web/${b1.name}`, JSON.stringify({ weight: 3, backup: true }));
    await waitFor(async () => (await readFile(cfg, 'utf8')).includes('backup'), { what: 'the backup flag' });
    expect(await readFile(cfg, 'utf8')).toContain(`    server ${b1.name} ${b1.name} weight 3 backup check\n`);
    await reloaded(2);

    // No members: still a config HAProxy accepts (the check passed), answering 503.
    await etcd.ctl('del', '--prefix', '/clusters/web/');
    await waitFor(async () => (await readFile(cfg, 'utf8')).includes('(0 member(s))'), { what: 'the empty backend' });
    expect(await readFile(cfg, 'utf8')).toBe(expected([]));
    let status = 0;
    await waitFor(async () => (status = await get()) === 503, { what: 'a 503 from haproxy with no servers' }).catch((err: Error) => {
      throw new Error(`${err.message}; last status ${status}; watcher:\n${watcher.stderr()}\nhaproxy:\n${haproxy?.output()}`);
    });
    expect(watcher.stderr()).not.toMatch(/check failed|reload.*failed/i);
  });

  it('a template failing at render time leaves the file as it was, and the watcher goes on', async () => {
    const dir = await tempDir('cc-template-');
    const file = join(dir, 'list.txt');
    // Fails once there are two members or more: url_decode throws on a lone "%".
    const template = '{% for m in members %}{{ m.name }}\n{% endfor %}{% if members.size > 1 %}{{ "%" | url_decode }}{% endif %}';
    const conf = await writeJson(join(dir, 'cc.conf'), {
      etcd: { endpoints: [etcd.endpoint] },
      clusters: [{ name: 'list', path: '/clusters/list', handler: 'template', handlerConfig: { file, template } }],
    });
    await etcd.ctl('put', '/clusters/list/10.1.0.1:80', '');
    const watcher = spawnCli(['--conf', conf, 'watch', 'list', '0']);
    watchers.push(watcher);
    await watcher.waitForLog(/in sync at revision/);
    await waitFor(async () => (await readFile(file, 'utf8').catch(() => '')) === '10.1.0.1:80\n', { what: 'the first render' });

    await etcd.ctl('put', '/clusters/list/10.1.0.2:80', '');
    await watcher.waitForLog(/list: handler template failed to render: template line 2, column 38: URI malformed/);
    expect(await readFile(file, 'utf8')).toBe('10.1.0.1:80\n');

    await etcd.ctl('del', '/clusters/list/10.1.0.1:80');
    // The member that broke the render may be quarantined until its value changes: change it.
    await etcd.ctl('put', '/clusters/list/10.1.0.2:80', '{"v":1}');
    await waitFor(async () => (await readFile(file, 'utf8')) === '10.1.0.2:80\n', { what: 'the next good render' }).catch(async (err: Error) => {
      throw new Error(`${err.message}; file ${JSON.stringify(await readFile(file, 'utf8'))}; watcher:\n${watcher.stderr()}`);
    });
    expect(watcher.child.exitCode).toBeNull();
  });

  it('a runaway template fails that render within renderLimitMs; the watcher goes on', async () => {
    const dir = await tempDir('cc-template-');
    const file = join(dir, 'list.txt');
    // With two members or more: a billion loop iterations (nothing allocated, so only the time limit stops it).
    const runaway = '{% assign r = (1..1000) %}{% for a in r %}{% for b in r %}{% for c in r %}{% endfor %}{% endfor %}{% endfor %}';
    const template = `{% for m in members %}{{ m.name }}\n{% endfor %}{% if members.size > 1 %}${runaway}{% endif %}`;
    const conf = await writeJson(join(dir, 'cc.conf'), {
      etcd: { endpoints: [etcd.endpoint] },
      clusters: [{ name: 'runaway', path: '/clusters/runaway', handler: 'template', handlerConfig: { file, template, renderLimitMs: 300 } }],
    });
    await etcd.ctl('put', '/clusters/runaway/10.2.0.1:80', '');
    const watcher = spawnCli(['--conf', conf, 'watch', 'runaway', '0']);
    watchers.push(watcher);
    await watcher.waitForLog(/in sync at revision/);
    await waitFor(async () => (await readFile(file, 'utf8').catch(() => '')) === '10.2.0.1:80\n', { what: 'the first render' });

    const started = Date.now();
    await etcd.ctl('put', '/clusters/runaway/10.2.0.2:80', '');
    await watcher.waitForLog(/runaway: handler template failed to render: template line 2, column \d+: template render limit exceeded/);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(await readFile(file, 'utf8')).toBe('10.2.0.1:80\n');

    // Still watching: a later change lands.
    await etcd.ctl('del', '/clusters/runaway/10.2.0.1:80');
    await etcd.ctl('put', '/clusters/runaway/10.2.0.3:80', '');
    await waitFor(async () => (await readFile(file, 'utf8')).includes('10.2.0.3:80\n'), { what: 'a render after the runaway one' }).catch(async (err: Error) => {
      throw new Error(`${err.message}; file ${JSON.stringify(await readFile(file, 'utf8'))}; watcher:\n${watcher.stderr()}`);
    });
    expect(watcher.child.exitCode).toBeNull();
  });
});

describe('template handler: bad options stop the CLI with one line', () => {
  async function config(handlerConfig: Record<string, unknown>) {
    const dir = await tempDir('cc-template-');
    return {
      dir,
      conf: await writeJson(join(dir, 'cc.conf'), { clusters: [{ name: 'web', path: '/clusters/web', handler: 'template', handlerConfig: { file: join(dir, 'out'), ...handlerConfig } }] }),
    };
  }

  it("a relative templateFile that is not in the config file's directory", async () => {
    const { dir, conf } = await config({ templateFile: 'web.liquid' });
    expectConfigError(
      await runCli(['--conf', conf, 'prepare', 'web']),
      new RegExp(`cc\\.conf: clusters\\[0\\]\\.handlerConfig\\.templateFile: cannot read ${join(dir, 'web.liquid').replaceAll('.', '\\.')}: ENOENT`),
    );
  });

  it('a syntax error in the template file, with line and column', async () => {
    const { dir } = await config({});
    const tpl = join(dir, 'web.liquid');
    await writeFile(tpl, 'backend web\n{% for m in members %}\n  server {{ m.name | nosuch }}\n{% endfor %}\n');
    const conf = await writeJson(join(dir, 'cc2.conf'), { clusters: [{ name: 'web', path: '/clusters/web', handler: 'template', handlerConfig: { file: join(dir, 'out'), templateFile: tpl } }] });
    expectConfigError(await runCli(['--conf', conf, 'prepare', 'web']), new RegExp(`clusters\\[0\\]\\.handlerConfig\\.templateFile: ${tpl.replaceAll('.', '\\.')}:3:10: undefined filter: nosuch$`));
  });

  it('an inline template that is not closed', async () => {
    const { conf } = await config({ template: '{% if members.size > 0 %}x' });
    expectConfigError(await runCli(['--conf', conf, 'prepare', 'web']), /clusters\[0\]\.handlerConfig\.template: line 1, column 1: tag \{% if members\.size > 0 %\} not closed$/);
  });
});
