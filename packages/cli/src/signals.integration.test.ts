import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EtcdServer, freePort, haveEtcd, startEtcd } from '#test-support/etcd-server.js';
import { type CliProcess, runCli, spawnCli, tempDir, waitFor, writeJson } from '#test-support/cli.js';

const CHILD = resolve(import.meta.dirname, '../../../test/support/child-server.mjs');

// Signals like consul-template's: SIGHUP re-reads `watch`'s configuration and is ignored (logged)
// by the commands that register; no signal ends a command with its key left behind.
describe.skipIf(!haveEtcd)('signals', () => {
  let etcd: EtcdServer;
  const running: CliProcess[] = [];
  const spawn = (...args: Parameters<typeof spawnCli>) => {
    const proc = spawnCli(...args);
    running.push(proc);
    return proc;
  };
  beforeAll(async () => {
    etcd = await startEtcd();
  });
  afterAll(async () => {
    for (const p of running) p.kill('SIGKILL');
    await etcd?.dispose();
  });
  const json = async (file: string) => JSON.parse(await readFile(file, 'utf8')) as unknown;
  const lines = async (file: string) => (await readFile(file, 'utf8').catch(() => '')).split('\n').filter(Boolean);

  it('SIGHUP to watch applies a changed cluster (new file, new reload), restarting its sync', async () => {
    const dir = await tempDir();
    const reloads = join(dir, 'reloads');
    const cluster = { name: 'web', path: '/sig/hup-web', handler: 'json', reload: ['sh', '-c', `echo old >> ${reloads}`] };
    const conf = await writeJson(join(dir, 'cc.conf'), { etcd: { endpoints: [etcd.endpoint] }, clusters: [{ ...cluster, handlerConfig: 'old.json' }] });
    await etcd.ctl('put', '/sig/hup-web/10.0.0.1:80', '');
    const w = spawn(['--conf', conf, 'watch', 'web', '0']);
    await w.waitForLog(/web: in sync at revision/);
    await waitFor(async () => JSON.stringify(await json(join(dir, 'old.json'))) === '["10.0.0.1:80"]', { what: 'old.json' });

    await writeJson(conf, {
      etcd: { endpoints: [etcd.endpoint] },
      clusters: [{ ...cluster, handlerConfig: { file: 'new.json', pretty: true }, reload: ['sh', '-c', `echo new >> ${reloads}`] }],
    });
    w.kill('SIGHUP');
    await w.waitForLog(/info: SIGHUP: re-read .*cc\.conf: restarted web\n/);
    // From the current state: the new file is written at once, and reloaded with the new command.
    await waitFor(async () => JSON.stringify(await json(join(dir, 'new.json'))) === '["10.0.0.1:80"]', { what: 'new.json' });
    expect(await readFile(join(dir, 'new.json'), 'utf8')).toBe('[\n  "10.0.0.1:80"\n]\n');
    await waitFor(async () => (await lines(reloads)).includes('new'), { what: 'the new reload' });
    await etcd.ctl('put', '/sig/hup-web/10.0.0.2:80', '');
    await waitFor(async () => ((await json(join(dir, 'new.json'))) as string[]).length === 2, { what: 'a change in new.json' });
    expect(await json(join(dir, 'old.json'))).toEqual(['10.0.0.1:80']);
    expect(w.child.exitCode).toBeNull();

    // Unchanged: nothing restarts.
    w.kill('SIGHUP');
    await w.waitForLog(/SIGHUP: re-read .*: web unchanged/);
    w.kill('SIGTERM');
    expect((await w.exited()).code).toBe(0);
  });

  it('SIGHUP to watch with an invalid configuration logs it and keeps the running one', async () => {
    const dir = await tempDir();
    const conf = await writeJson(join(dir, 'cc.conf'), { etcd: { endpoints: [etcd.endpoint] }, clusters: [{ name: 'web', path: '/sig/bad-web', handler: 'json', handlerConfig: 'web.json' }] });
    const w = spawn(['--conf', conf, 'watch', 'web', '0']);
    await w.waitForLog(/web: in sync at revision/);

    await writeFile(conf, '{"etcd": {"endpoints": [');
    w.kill('SIGHUP');
    await w.waitForLog(/error: SIGHUP: .*cc\.conf.*; keeping the running configuration\n/);
    await writeJson(conf, { etcd: { endpoints: [etcd.endpoint] }, clusters: [{ name: 'web', path: '/sig/bad-web', handler: 'nope-no-such-handler', handlerConfig: 'web.json' }] });
    w.kill('SIGHUP');
    await w.waitForLog(/error: SIGHUP: .*clusters\[0\]\.handler.*; keeping the running configuration\n/);
    expect(w.stderr().match(/SIGHUP/g)).toHaveLength(2); // one line each

    // Still running, still applying changes with the old configuration.
    await etcd.ctl('put', '/sig/bad-web/10.0.0.3:80', '');
    await waitFor(async () => JSON.stringify(await json(join(dir, 'web.json'))) === '["10.0.0.3:80"]', { what: 'the change applied' });
    w.kill('SIGTERM');
    const exit = await w.exited();
    expect(exit.code).toBe(0);
    expect(exit.stderr).not.toMatch(/unexpected error|at .*\.js:\d+/);
  });

  for (const command of ['heartbeat', 'watchkey'] as const) {
    it(`SIGHUP to ${command} is logged and ignored; SIGTERM then exits 0 with the key gone`, async () => {
      const dir = await tempDir();
      const key = `/sig/${command}/10.0.1.1:80`;
      const conf = await writeJson(join(dir, 'cc.conf'), { etcd: { endpoints: [etcd.endpoint] }, self: { key, ttl: 30, heartbeat: 1 }, clusters: [] });
      const hb = spawn(['--conf', conf, 'heartbeat']);
      await waitFor(async () => (await etcd.ctl('get', key, '--keys-only')).trim() !== '', { what: 'registration' });
      const proc = command === 'heartbeat' ? hb : spawn(['--conf', conf, 'watchkey']);
      if (command === 'watchkey') await proc.waitForLog(/is present; watching/);
      proc.kill('SIGHUP');
      await proc.waitForLog(/info: SIGHUP ignored\n/);
      await new Promise((r) => setTimeout(r, 300));
      expect(proc.child.exitCode).toBeNull();
      expect(proc.child.signalCode).toBeNull();
      expect((await etcd.ctl('get', key, '--keys-only')).trim()).toBe(key);
      proc.kill('SIGTERM');
      expect((await proc.exited()).code).toBe(0);
      if (command === 'watchkey') {
        expect((await etcd.ctl('get', key, '--keys-only')).trim()).toBe(key); // watchkey registers nothing
        hb.kill('SIGTERM');
        expect((await hb.exited()).code).toBe(0);
      }
      expect(await etcd.ctl('get', key)).toBe(''); // no TTL wait: the lease was revoked
    });
  }

  // Each of these would otherwise kill the process with its lease left behind for a TTL.
  for (const signal of ['SIGQUIT', 'SIGUSR2', 'SIGALRM', 'SIGPWR'] as const) {
    it(`${signal} to heartbeat deregisters and exits 0 (its default action would leave the lease)`, async () => {
      const dir = await tempDir();
      const key = `/sig/${signal}/10.0.1.2:80`;
      const conf = await writeJson(join(dir, 'cc.conf'), { etcd: { endpoints: [etcd.endpoint] }, self: { key, ttl: 30, heartbeat: 1 }, clusters: [] });
      const hb = spawn(['--conf', conf, 'heartbeat']);
      await waitFor(async () => (await etcd.ctl('get', key, '--keys-only')).trim() !== '', { what: 'registration' });
      hb.kill(signal);
      expect(await hb.exited()).toMatchObject({ code: 0, signal: null });
      expect(await etcd.ctl('get', key)).toBe('');
    });
  }

  it('SIGALRM to watch: its status record goes at once and it exits 0', async () => {
    const dir = await tempDir();
    const conf = await writeJson(join(dir, 'cc.conf'), {
      etcd: { endpoints: [etcd.endpoint] },
      status: { prefix: '/sig-status/', ttl: 30 },
      clusters: [{ name: 'web', path: '/sig/alrm-web', handler: 'json', handlerConfig: 'web.json' }],
    });
    const w = spawn(['--conf', conf, 'watch', 'web', '0']);
    await waitFor(async () => (await etcd.ctl('get', '/sig-status/', '--prefix', '--keys-only')).trim() !== '', { what: 'the status record' });
    w.kill('SIGALRM');
    expect(await w.exited()).toMatchObject({ code: 0, signal: null });
    expect(await etcd.ctl('get', '/sig-status/', '--prefix', '--keys-only')).toBe('');
  });

  it('run forwards SIGHUP and SIGUSR2 to the server and keeps running; SIGALRM stops it cleanly', async () => {
    const dir = await tempDir();
    const port = await freePort();
    const key = `/sig/run/127.0.0.1:${port}`;
    const log = join(dir, 'child.log');
    const conf = await writeJson(join(dir, 'cc.conf'), {
      etcd: { endpoints: [etcd.endpoint] },
      self: { key, ttl: 5, heartbeat: 1 },
      clusters: [{ name: 'db', path: '/sig/run-db', handler: 'json', handlerConfig: 'db.json' }],
    });
    const run = spawn(['--conf', conf, 'run', '--ready-tcp', `127.0.0.1:${port}`, '--', process.execPath, CHILD], {
      env: { HOST: '127.0.0.1', PORT: String(port), LOG: log, ETCD: etcd.endpoint, KEY: key },
    });
    await waitFor(async () => (await etcd.ctl('get', key, '--keys-only')).trim() !== '', { what: 'registration' });
    for (const signal of ['SIGHUP', 'SIGUSR2'] as const) {
      run.kill(signal);
      await waitFor(async () => (await lines(log)).some((l) => (JSON.parse(l) as { signal?: string }).signal === signal), { what: `${signal} at the server` });
    }
    expect(run.child.exitCode).toBeNull();
    expect((await etcd.ctl('get', key, '--keys-only')).trim()).toBe(key);
    // A signal that means nothing to run stops it as SIGTERM does, rather than killing it.
    run.kill('SIGALRM');
    expect(await run.exited()).toMatchObject({ code: 0, signal: null });
    expect(await etcd.ctl('get', key)).toBe('');
  });

  it('watch --all follows every cluster, each with its own file and reload; SIGHUP adds, removes and restarts', async () => {
    const dir = await tempDir();
    const marker = join(dir, 'reloads');
    const entry = (name: string, extra: Record<string, unknown> = {}) => ({
      name,
      path: `/sig/all/${name}`,
      handler: 'json',
      handlerConfig: `${name}.json`,
      // Each cluster's own reload: its name and what it was told.
      reload: ['sh', '-c', `echo "${name} $CLUSTER_CONTROL_CLUSTER $CLUSTER_CONTROL_MEMBER_COUNT" >> ${marker}`],
      ...extra,
    });
    const conf = await writeJson(join(dir, 'cc.conf'), { etcd: { endpoints: [etcd.endpoint] }, clusters: [entry('a'), entry('b'), entry('c')] });
    await etcd.ctl('put', '/sig/all/a/10.1.0.1:80', '');
    const w = spawn(['--conf', conf, 'watch', '--all']);
    for (const name of ['a', 'b', 'c']) await w.waitForLog(new RegExp(`${name}: in sync at revision \\d+; watching /sig/all/${name}/`));
    const file = (name: string) => join(dir, `${name}.json`);
    const members = async (name: string) => (await json(file(name))) as string[];
    await waitFor(async () => JSON.stringify(await members('a')) === '["10.1.0.1:80"]', { what: 'a.json from the current state' });
    await waitFor(async () => JSON.stringify(await members('b')) === '[]' && JSON.stringify(await members('c')) === '[]', { what: 'b.json and c.json' });

    await etcd.ctl('put', '/sig/all/b/10.2.0.1:80', '');
    await etcd.ctl('put', '/sig/all/b/10.2.0.2:80', '');
    await etcd.ctl('put', '/sig/all/c/10.3.0.1:80', '');
    await etcd.ctl('del', '/sig/all/a/10.1.0.1:80');
    await waitFor(async () => (await members('b')).length === 2 && (await members('c')).length === 1 && (await members('a')).length === 0, { what: 'every change in its file' });
    expect(await members('b')).toEqual(['10.2.0.1:80', '10.2.0.2:80']);
    expect(await members('c')).toEqual(['10.3.0.1:80']);
    await waitFor(
      async () => {
        const l = await lines(marker);
        return l.includes('a a 0') && l.includes('b b 2') && l.includes('c c 1');
      },
      { what: 'each cluster reloaded with its own command' },
    );
    // Every reload line names its own cluster: no cluster ran another's reload.
    for (const line of await lines(marker)) expect(line.split(' ')[0]).toBe(line.split(' ')[1]);

    // Each cluster publishes its status like `watch` does.
    const statusKeys = async (name: string) => (await etcd.ctl('get', `/cluster-control/status/${encodeURIComponent(`/sig/all/${name}`)}/`, '--prefix', '--keys-only')).trim();
    for (const name of ['a', 'b', 'c']) await waitFor(async () => (await statusKeys(name)) !== '', { what: `${name}'s status record` });

    // Re-read: a removed, b changed (its file), c unchanged, d added.
    await writeJson(conf, { etcd: { endpoints: [etcd.endpoint] }, clusters: [entry('b', { handlerConfig: 'b2.json' }), entry('c'), entry('d')] });
    await etcd.ctl('put', '/sig/all/d/10.4.0.1:80', '');
    w.kill('SIGHUP');
    await w.waitForLog(/info: SIGHUP: re-read .*cc\.conf: started d; restarted b; stopped a; c unchanged\n/);
    await waitFor(async () => JSON.stringify(await members('b2')) === '["10.2.0.1:80","10.2.0.2:80"]', { what: 'b2.json' });
    await waitFor(async () => JSON.stringify(await members('d')) === '["10.4.0.1:80"]', { what: 'd.json' });
    await waitFor(async () => (await statusKeys('a')) === '', { what: "a's status record gone" });
    await etcd.ctl('put', '/sig/all/a/10.1.0.9:80', '');
    await etcd.ctl('put', '/sig/all/c/10.3.0.2:80', '');
    await waitFor(async () => (await members('c')).length === 2, { what: 'c still followed' });
    expect(await members('a')).toEqual([]); // a no longer followed

    w.kill('SIGTERM');
    const exit = await w.exited();
    expect(exit.code).toBe(0);
    for (const name of ['b', 'c', 'd']) expect(await statusKeys(name)).toBe(''); // its lease revoked
  });

  it('watch: --all takes no cluster, and without --all the cluster and revision are required (exit 2)', async () => {
    const both = await runCli(['watch', '--all', 'web']);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/watch --all takes no arguments/);
    const none = await runCli(['watch', 'web']);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/missing required argument 'revision'/);
  });

  it('prepare below minMembers with no file writes the empty form and exits 3, printing the revision; with a file it keeps it, exit 0', async () => {
    const dir = await tempDir();
    const conf = await writeJson(join(dir, 'cc.conf'), {
      etcd: { endpoints: [etcd.endpoint] },
      clusters: [
        { name: 'web', path: '/sig/min-web', handler: 'nginx', handlerConfig: { file: 'upstream.conf' }, minMembers: 2 },
        { name: 'cache', path: '/sig/min-cache', handler: 'redis', handlerConfig: { file: 'redis.yml' }, minMembers: 1 },
      ],
    });
    await etcd.ctl('put', '/sig/min-web/10.5.0.1:80', '');
    const first = await runCli(['--conf', conf, 'prepare', 'web']);
    expect(first.code).toBe(3);
    expect(first.stdout).toMatch(/^\d+\n$/);
    expect(first.stderr).toMatch(/1 member\(s\), fewer than minMembers 2; .*upstream\.conf did not exist: wrote it with no members/);
    const empty = await readFile(join(dir, 'upstream.conf'), 'utf8');
    expect(empty).toMatch(/upstream web \{\n.*\n {4}server 127\.0\.0\.1:1 down;\n\}/);

    const again = await runCli(['--conf', conf, 'prepare', 'web']);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^\d+\n$/);
    expect(again.stderr).toMatch(/refusing to install 1 member\(s\), fewer than minMembers 2; .* left as it is/);
    expect(await readFile(join(dir, 'upstream.conf'), 'utf8')).toBe(empty);

    await etcd.ctl('put', '/sig/min-web/10.5.0.2:80', '');
    expect((await runCli(['--conf', conf, 'prepare', 'web'])).code).toBe(0);
    expect(await readFile(join(dir, 'upstream.conf'), 'utf8')).toMatch(/server 10\.5\.0\.1:80.*\n.*server 10\.5\.0\.2:80/);

    // A handler with no empty form (nutcracker refuses an empty pool): no file, exit 0, and why.
    const cache = await runCli(['--conf', conf, 'prepare', 'cache']);
    expect(cache.code).toBe(0);
    expect(cache.stderr).toMatch(/empty form cannot be written either: handler redis failed to render/);
    await expect(readFile(join(dir, 'redis.yml'))).rejects.toThrow(/ENOENT/);
  });
});
