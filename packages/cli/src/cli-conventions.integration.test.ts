import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EtcdServer, haveEtcd, startEtcd } from '#test-support/etcd-server.js';
import { type CliProcess, runCli, spawnCli, tempDir, waitFor, writeJson } from '#test-support/cli.js';

/** A script that exits 0: an executable check or reload that exists. */
async function executable(dir: string, name: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, '#!/bin/sh\nexit 0\n');
  await chmod(path, 0o755);
  return path;
}

// check-config needs no etcd: the configured endpoint is never contacted.
describe('check-config and run --check-config', () => {
  it('a good configuration: exit 0 and a summary line', async () => {
    const dir = await tempDir();
    const reload = await executable(dir, 'reload.sh');
    const conf = await writeJson(join(dir, 'cc.conf'), {
      etcd: { endpoints: ['http://127.0.0.1:1'] },
      self: { key: '/clusters/web/10.0.0.5:80', ttl: 10 },
      clusters: [
        { name: 'web', path: '/clusters/web', handler: 'json', handlerConfig: join(dir, 'web.json'), reload: `${reload} --now`, check: ['true', '{src}'] },
        { name: 'lb', path: '/clusters/lb', handler: 'nginx', handlerConfig: { file: join(dir, 'lb.conf'), upstream: 'lb' } },
      ],
    });
    const res = await runCli(['check-config', '--conf', conf]);
    expect(res.stderr).toBe('');
    expect(res.stdout).toBe(`${conf}: OK (2 cluster(s), self /clusters/web/10.0.0.5:80)\n`);
    expect(res.code).toBe(0);
  });

  it('a missing reload binary, a missing directory and bad handler options: one line each naming the field, exit 2', async () => {
    const dir = await tempDir();
    const notExecutable = join(dir, 'plain.txt');
    await writeFile(notExecutable, 'not a program\n');
    const conf = await writeJson(join(dir, 'cc.conf'), {
      etcd: { endpoints: ['http://127.0.0.1:1'] },
      clusters: [
        { name: 'web', path: '/clusters/web', handler: 'json', handlerConfig: join(dir, 'web.json'), reload: '/usr/sbin/cc-no-such-reload -s reload' },
        { name: 'db', path: '/clusters/db', handler: 'nginx', handlerConfig: { file: join(dir, 'missing', 'db.conf'), upstream: 'db', bogus: 1 }, check: [notExecutable, '{src}'] },
        { name: 'cache', path: '/clusters/cache', handler: 'json', handlerConfig: join(dir, 'cache.json'), reload: 'cc-no-such-command-in-path' },
      ],
    });
    const res = await runCli(['check-config', '--conf', conf]);
    expect(res.code).toBe(2);
    expect(res.stdout.trimEnd().split('\n')).toEqual([
      'clusters[web].reload: /usr/sbin/cc-no-such-reload: no such executable',
      expect.stringMatching(/^clusters\[db\]\.handlerConfig\.bogus: unknown option/),
      `clusters[db].check: ${notExecutable}: not executable by this user`,
      `clusters[db].file: directory ${join(dir, 'missing')} does not exist`,
      'clusters[cache].reload: cc-no-such-command-in-path: no such executable in PATH',
      `${conf}: 5 problems`,
    ]);
    expect(res.stderr).not.toMatch(/\n\s+at /);
  });

  it('run --check-config shares the checks: a missing reload binary is exit 2, not OK', async () => {
    const dir = await tempDir();
    const conf = await writeJson(join(dir, 'cc.conf'), {
      etcd: { endpoints: ['http://127.0.0.1:1'] },
      clusters: [{ name: 'web', path: '/clusters/web', handler: 'json', handlerConfig: join(dir, 'web.json'), reload: '/usr/sbin/cc-no-such-reload' }],
    });
    const bad = await runCli(['run', '--check-config', '--conf', conf, '--', 'sleep', '1']);
    expect(bad.code).toBe(2);
    expect(bad.stdout).toMatch(/^clusters\[web\]\.reload: \/usr\/sbin\/cc-no-such-reload: no such executable$/m);
    expect(bad.stdout).not.toMatch(/configuration OK/);

    await writeJson(conf, {
      etcd: { endpoints: ['http://127.0.0.1:1'] },
      clusters: [{ name: 'web', path: '/clusters/web', handler: 'json', handlerConfig: join(dir, 'web.json'), reload: await executable(dir, 'r.sh') }],
    });
    const good = await runCli(['run', '--check-config', '--conf', conf, '--', 'sleep', '1']);
    expect(good.code).toBe(0);
    expect(good.stdout).toMatch(/^configuration OK: /);
  });

  it('an invalid --log-format is a usage error (exit 2), before or after the subcommand', async () => {
    for (const args of [
      ['check-config', '--log-format', 'xml'],
      ['--log-format', 'xml', 'check-config'],
    ]) {
      const res = await runCli(args);
      expect(res.code).toBe(2);
      expect(res.stderr).toMatch(/--log-format <format>' argument 'xml' is invalid/);
    }
  });

  it('a reader that went away (`--help | head -1`) is no error: exit 0, nothing on stderr', async () => {
    for (const args of [['--help'], ['status', '--help']]) {
      const cli = spawnCli(args);
      // Closed before the CLI has started: its first write meets a closed pipe (EPIPE).
      cli.child.stdout!.destroy();
      const res = await cli.exited();
      expect({ args, code: res.code, stderr: res.stderr }).toEqual({ args, code: 0, stderr: '' });
    }
  });
});

describe.skipIf(!haveEtcd)('global options after the subcommand, render', () => {
  let etcd: EtcdServer;
  let dir: string;
  let conf: string;
  const running: CliProcess[] = [];
  beforeAll(async () => {
    etcd = await startEtcd();
    dir = await tempDir();
    conf = await writeJson(join(dir, 'x.conf'), {
      etcd: { endpoints: [etcd.endpoint] },
      clusters: [
        { name: 'web', path: '/clusters/web', handler: 'json', handlerConfig: join(dir, 'web.json') },
        { name: 'few', path: '/clusters/few', handler: 'json', handlerConfig: join(dir, 'few.json'), minMembers: 5 },
      ],
    });
    await etcd.ctl('put', '/clusters/web/10.0.0.2:80', '');
    await etcd.ctl('put', '/clusters/web/10.0.0.1:80', '');
    // Refused by the default address policy: quarantined, not in the file.
    await etcd.ctl('put', '/clusters/web/169.254.1.1:80', '');
  });
  afterAll(async () => {
    for (const p of running) p.kill('SIGKILL');
    await etcd?.dispose();
  });

  it('prepare web --conf x.conf --verbose: options after the subcommand work', async () => {
    const res = await runCli(['prepare', 'web', '--conf', conf, '--verbose'], { cwd: dir });
    expect(res.stderr).not.toMatch(/unknown option/);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^\d+\n$/);
    expect(JSON.parse(await readFile(join(dir, 'web.json'), 'utf8'))).toEqual(['10.0.0.1:80', '10.0.0.2:80']);
  });

  it('render prints what prepare writes, writes nothing, and names the revision on stderr', async () => {
    const revision = await etcd.revision();
    const res = await runCli(['render', 'web', '--conf', conf]);
    expect(res.code).toBe(0);
    expect(res.stdout).toBe(await readFile(join(dir, 'web.json'), 'utf8'));
    expect(res.stderr).toMatch(new RegExp(`info: web: rendered revision ${revision} \\(2 member\\(s\\)\\)`));
    expect(res.stderr).toMatch(/member 169\.254\.1\.1:80 quarantined/);

    // Below minMembers with no file yet: the empty form prepare would write, exit 3 as prepare; nothing written.
    await etcd.ctl('put', '/clusters/few/10.0.0.9:80', '');
    const few = await runCli(['render', 'few', '--conf', conf]);
    expect(few.code).toBe(3);
    expect(JSON.parse(few.stdout)).toEqual([]);
    expect(few.stderr).toMatch(/few: rendered the empty form at revision \d+ \(below minMembers 5, no .*few\.json yet\)/);
    await expect(stat(join(dir, 'few.json'))).rejects.toThrow(/ENOENT/);
    const prepared = await runCli(['prepare', 'few', '--conf', conf]);
    expect(prepared.code).toBe(3);
    expect(await readFile(join(dir, 'few.json'), 'utf8')).toBe(few.stdout);

    // With a file there, prepare keeps it: render says so and prints nothing.
    const kept = await runCli(['render', 'few', '--conf', conf]);
    expect(kept.code).toBe(1);
    expect(kept.stdout).toBe('');
    expect(kept.stderr).toMatch(/render few: prepare would leave .*few\.json as it is at revision \d+: 1 member\(s\), fewer than minMembers 5/);
  });

  it('--log-format json after the subcommand: every stderr line is one JSON object; stdout untouched', async () => {
    const res = await runCli(['render', 'web', '--log-format', 'json', '--conf', conf]);
    expect(res.code).toBe(0);
    expect(res.stdout).toBe(await readFile(join(dir, 'web.json'), 'utf8'));
    const lines = res.stderr
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, string>);
    expect(lines.at(-1)).toMatchObject({ level: 'info', name: 'cluster-control', msg: expect.stringMatching(/^web: rendered revision \d+/) });
    for (const line of lines) expect(line.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('unknown fields in the configuration are logged as warnings, and the command goes on', async () => {
    const typo = await writeJson(join(dir, 'typo.conf'), {
      etcd: { endpoints: [etcd.endpoint] },
      clusters: [{ name: 'web', path: '/clusters/web', handler: 'json', handlerConfig: join(dir, 'typo.json'), relaod: 'x' }],
    });
    const res = await runCli(['render', 'web', '--conf', typo]);
    expect(res.code).toBe(0);
    expect(res.stderr).toMatch(/warn: .*clusters\[0\]\.relaod: unknown field/);
  });

  it('render: exit 1 when etcd cannot be reached within --timeout', async () => {
    const down = await writeJson(join(dir, 'down.conf'), {
      etcd: { endpoints: ['http://127.0.0.1:1'] },
      clusters: [{ name: 'web', path: '/clusters/web', handler: 'json', handlerConfig: join(dir, 'down.json') }],
    });
    const started = Date.now();
    const res = await runCli(['render', 'web', '--timeout', '1', '--conf', down]);
    expect(res.code).toBe(1);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(/gave up after 1s/);
    expect(Date.now() - started).toBeLessThan(10_000);

    // Under --log-format json the failure line is a JSON record too, so a collector parses every line.
    const json = await runCli(['render', 'web', '--timeout', '1', '--log-format', 'json', '--conf', down]);
    expect(json.code).toBe(1);
    const records = json.stderr
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, string>);
    expect(records.at(-1)).toMatchObject({ level: 'error', name: 'cluster-control', msg: expect.stringMatching(/gave up after 1s/) });
  });

  it('CLUSTER_CONTROL_ETCD replaces the configured endpoints for every command', async () => {
    const elsewhere = await writeJson(join(dir, 'elsewhere.conf'), {
      etcd: { endpoints: ['http://127.0.0.1:1'] },
      clusters: [{ name: 'web', path: '/clusters/web', handler: 'json', handlerConfig: join(dir, 'env.json') }],
    });
    const env = { CLUSTER_CONTROL_ETCD: `http://127.0.0.1:1,${etcd.endpoint}` };
    const prepared = await runCli(['prepare', 'web', '--conf', elsewhere, '--timeout', '10'], { env });
    expect(prepared.code).toBe(0);
    expect(JSON.parse(await readFile(join(dir, 'env.json'), 'utf8'))).toEqual(['10.0.0.1:80', '10.0.0.2:80']);
    const listed = await runCli(['members', 'web', '--conf', elsewhere, '--timeout', '10'], { env });
    expect(listed.stdout).toBe('10.0.0.1:80\n10.0.0.2:80\n');
    const bad = await runCli(['members', 'web', '--conf', elsewhere], { env: { CLUSTER_CONTROL_ETCD: 'ftp://h:21' } });
    expect(bad.code).toBe(2);
    expect(bad.stderr.trimEnd().split('\n')).toEqual([expect.stringMatching(/^cluster-control: .*CLUSTER_CONTROL_ETCD: expected comma-separated URLs/)]);
  });

  it('relative check and template paths resolve against the configuration file, from any working directory', async () => {
    const confDir = join(dir, 'etc');
    const marker = join(dir, 'checked.txt');
    await mkdir(join(confDir, 'out'), { recursive: true });
    await writeFile(join(confDir, 'check.sh'), `#!/bin/sh\necho "$1" >> ${JSON.stringify(marker)}\n`, { mode: 0o755 });
    await writeFile(join(confDir, 'web.liquid'), '{% for m in members %}{{ m.name }};{% endfor %}\n');
    const relative = await writeJson(join(confDir, 'relative.conf'), {
      etcd: { endpoints: [etcd.endpoint] },
      clusters: [{ name: 'web', path: '/clusters/web', handler: 'template', handlerConfig: { file: 'out/web.txt', templateFile: 'web.liquid' }, check: './check.sh {src}' }],
    });
    const res = await runCli(['prepare', 'web', '--conf', relative], { cwd: '/' });
    expect(res.stderr).not.toMatch(/error/);
    expect(res.code).toBe(0);
    expect(await readFile(join(confDir, 'out', 'web.txt'), 'utf8')).toBe('10.0.0.1:80;10.0.0.2:80;\n');
    expect(await readFile(marker, 'utf8')).toMatch(/web\.txt/);
  });

  it('SIGHUP to a one-shot command is logged and ignored: status --wait runs on to its own end', async () => {
    const status = spawnCli(['status', 'web', '--wait', '--expect', '5', '--timeout', '4', '--conf', conf]);
    running.push(status);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    status.kill('SIGHUP');
    const res = await status.exited(15_000);
    expect(res.stderr).toMatch(/info: SIGHUP ignored/);
    expect(res.code).toBe(1); // the --wait timeout, not the signal (129)
    expect(res.stderr).toMatch(/only 0 of 5 expected watchers/);
  });

  it('members web --verbose --conf x.conf, and watch web 0 -- cmd --conf x passes --conf x to cmd', async () => {
    const members = await runCli(['members', 'web', '--verbose', '--conf', conf]);
    expect(members.code).toBe(0);
    expect(members.stdout).toBe('10.0.0.1:80\n10.0.0.2:80\n');

    // The reload records its argv: it must get --conf x, which is not ours.
    const argvFile = join(dir, 'argv.json');
    const script = join(dir, 'record-argv.cjs');
    await writeFile(script, `require('node:fs').writeFileSync(${JSON.stringify(argvFile)}, JSON.stringify(process.argv.slice(2)))\n`);
    const watch = spawnCli(['watch', 'web', '0', '--conf', conf, '--', process.execPath, script, '--conf', 'x']);
    running.push(watch);
    await watch.waitForLog(/in sync at revision/);
    await etcd.ctl('put', '/clusters/web/10.0.0.3:80', '');
    const argv = await waitFor(async () => JSON.parse(await readFile(argvFile, 'utf8')) as string[], { what: 'the reload to run' });
    expect(argv).toEqual(['--conf', 'x']);
    watch.kill('SIGTERM');
    expect((await watch.exited()).code).toBe(0);
  });
});
