import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EtcdServer, haveEtcd, startEtcd } from '#test-support/etcd-server.js';
import { runCli, spawnCli, tempDir, waitFor, writeJson } from '#test-support/cli.js';

/** One line on stderr, exit 2, no stack trace. */
function expectConfigError(res: { code: number | null; stderr: string; stdout: string }, pattern: RegExp) {
  expect(res.code).toBe(2);
  expect(res.stdout).toBe('');
  const lines = res.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  expect(res.stderr).not.toMatch(/\n\s+at /);
}

describe('bad configuration: one clear line, exit 2', () => {
  it('missing file', async () => {
    const dir = await tempDir();
    expectConfigError(await runCli(['prepare', 'web'], { cwd: dir }), /cluster-control\.conf: configuration file not found/);
    expectConfigError(await runCli(['--conf', join(dir, 'nope.json'), 'members', 'web']), /nope\.json: configuration file not found/);
  });

  it('JSON syntax error names line and column (the PHP README sample has one)', async () => {
    const dir = await tempDir();
    const conf = join(dir, 'cc.conf');
    // Verbatim from the PHP README: `"handler:" "..."` is missing its colon.
    await writeFile(
      conf,
      ['{', '    "clusters": [', '        {', '            "name": "mysql",', '            "handler:" "AlanKent\\\\ClusterControl\\\\Handlers\\\\MySQLHandler",', '        }', '    ]', '}'].join('\n'),
    );
    expectConfigError(await runCli(['--conf', conf, 'prepare', 'mysql']), /cc\.conf:5:24: invalid JSON/);
  });

  it('wrong field type names the field path', async () => {
    const dir = await tempDir();
    const conf = await writeJson(join(dir, 'cc.conf'), {
      clusters: [
        { name: 'a', path: '/a', handler: 'json', handlerConfig: 'a.json' },
        { name: 'b', path: '/b', handler: 7, handlerConfig: 'b.json' },
      ],
    });
    expectConfigError(await runCli(['--conf', conf, 'prepare', 'b']), /clusters\[1\]\.handler/);
    const conf2 = await writeJson(join(dir, 'cc2.conf'), { etcd: { host: 'h', port: 'x' }, clusters: [] });
    expectConfigError(await runCli(['--conf', conf2, 'members', 'b']), /etcd\.port/);
  });

  it('unknown cluster, unknown handler, missing self section', async () => {
    const dir = await tempDir();
    const conf = await writeJson(join(dir, 'cc.conf'), { clusters: [{ name: 'a', path: '/a', handler: 'AlanKent\\ClusterControl\\Handlers\\NoSuchHandler', handlerConfig: 'a.json' }] });
    expectConfigError(await runCli(['--conf', conf, 'prepare', 'zzz']), /unknown cluster "zzz"/);
    expectConfigError(await runCli(['--conf', conf, 'prepare', 'a']), /clusters\[0\]\.handler: unknown handler/);
    expectConfigError(await runCli(['--conf', conf, 'removekey']), /self\.key/);
  });

  it('usage errors exit 2', async () => {
    const res = await runCli(['watch', 'web', 'not-a-revision']);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/expected a revision number/);
    expect((await runCli(['frobnicate'])).code).toBe(2);
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/cc:clusterprepare/);
  });
});

describe.skipIf(!haveEtcd)('hostile member names never reach a file', () => {
  let etcd: EtcdServer;
  beforeAll(async () => {
    etcd = await startEtcd();
  });
  afterAll(async () => {
    await etcd?.dispose();
  });

  it('rejects names with a space, newline, quote or ; and logs them', async () => {
    const dir = await tempDir();
    const conf = await writeJson(join(dir, 'cc.conf'), {
      etcd: { endpoints: [etcd.endpoint] },
      clusters: [{ name: 'web', path: '/clusters/evil', handler: 'json', handlerConfig: 'web.json' }],
    });
    const hostile = ['10.0.0.1 80', '10.0.0.1:80\nProxyPass / http://evil', '10.0.0.2"', "10.0.0.3'", '10.0.0.4;reboot', 'a%0Ab', 'x}{', 'host#1', '<script>'];
    await etcd.ctl('put', '/clusters/evil/10.0.0.9:80', '');
    for (const name of hostile) await etcd.ctl('put', `/clusters/evil/${name}`, '');
    const prepared = await runCli(['--conf', conf, 'prepare', 'web']);
    expect(prepared.code).toBe(0);
    expect(await readFile(join(dir, 'web.json'), 'utf8')).toBe('["10.0.0.9:80"]\n');
    expect(prepared.stderr).toMatch(/ignoring member key "\/clusters\/evil\/10\.0\.0\.4;reboot"/);

    // Arriving through the watch, too.
    const watcher = spawnCli(['--conf', conf, 'watch', 'web', prepared.stdout.trim()]);
    await watcher.waitForLog(/in sync at revision/);
    await etcd.ctl('put', '/clusters/evil/evil\r\nname', '');
    await etcd.ctl('put', '/clusters/evil/10.0.0.10:80', '');
    await waitFor(async () => (await readFile(join(dir, 'web.json'), 'utf8')).includes('10.0.0.10:80'), { what: 'the valid member' });
    expect(await readFile(join(dir, 'web.json'), 'utf8')).toBe('["10.0.0.9:80","10.0.0.10:80"]\n');
    await watcher.waitForLog(/ignoring member key "\/clusters\/evil\/evil\\r\\nname"/);
    watcher.kill('SIGTERM');
    await watcher.exited();
  });
});
