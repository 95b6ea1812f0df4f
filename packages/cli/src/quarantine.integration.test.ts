import { chmod, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliProcess, runCli, spawnCli, tempDir, waitFor, writeJson } from '#test-support/cli.js';
import { type EtcdServer, freePort, haveEtcd, startEtcd } from '#test-support/etcd-server.js';

/** A value nested `depth` deep: `{"a":{"a":…}}`. */
const nested = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
/** A check that refuses any file naming port 6666 (a stand-in for `nginx -t` refusing a member). */
const CHECK = ['sh', '-c', '! grep -q 6666 "$0"', '{src}'];

// README: Hostile or broken members, through the CLI: a bad member is quarantined, never fatal;
// what is safe installs.
describe.skipIf(!haveEtcd)('quarantine through the CLI', () => {
  let etcd: EtcdServer;
  const running: CliProcess[] = [];
  beforeAll(async () => {
    etcd = await startEtcd();
  });
  afterAll(async () => {
    for (const p of running) p.kill('SIGKILL');
    await etcd?.dispose();
  });

  async function setup(path: string, cluster: Record<string, unknown> = {}, handlerOptions: Record<string, unknown> = {}) {
    const dir = await tempDir('cc-quarantine-');
    const file = join(dir, 'members.json');
    const conf = await writeJson(join(dir, 'cc.conf'), {
      etcd: { endpoints: [etcd.endpoint] },
      self: { key: `${path}-self/127.0.0.1:1`, ttl: 5, heartbeat: 1 },
      clusters: [{ name: 'web', path, handler: 'json', handlerConfig: { file, ...handlerOptions }, check: CHECK, ...cluster }],
    });
    return { dir, file, conf, members: async () => JSON.parse(await readFile(file, 'utf8')) as string[] };
  }

  it('prepare installs the good members and quarantines each bad one with its kind; members --json lists them', async () => {
    const path = '/clusters/q-prepare';
    await etcd.ctl('put', `${path}/10.0.0.1:80`, '');
    await etcd.ctl('put', `${path}/10.0.0.2:80`, '{"weight":2}');
    await etcd.ctl('put', `${path}/10.0.0.3:80`, nested(6000));
    await etcd.ctl('put', `${path}/169.254.169.254:80`, '');
    await etcd.ctl('put', `${path}/10.0.0.4:6666`, '');
    await etcd.ctl('put', `${path}/10.0.0.5:6666`, '');
    const { conf, members } = await setup(path);

    const prepared = await runCli(['--conf', conf, 'prepare', 'web']);
    expect(prepared.code).toBe(0);
    expect(prepared.stdout).toMatch(/^\d+\n$/);
    expect(await members()).toEqual(['10.0.0.1:80', '10.0.0.2:80']);
    const quarantined = (kind: string) => prepared.stderr.split('\n').filter((l) => l.includes(`quarantined (${kind})`));
    expect(quarantined('limits')).toEqual([expect.stringMatching(/member 10\.0\.0\.3:80 quarantined \(limits\): meta nested deeper than 8/)]);
    expect(quarantined('address')).toEqual([expect.stringMatching(/member 169\.254\.169\.254:80 quarantined \(address\): address in 169\.254\.0\.0\/16/)]);
    expect(quarantined('check').map((l) => /member (\S+) quarantined/.exec(l)![1])).toEqual(['10.0.0.4:6666', '10.0.0.5:6666']);

    const listed = await runCli(['--conf', conf, 'members', 'web', '--json']);
    expect(listed.code).toBe(0);
    const json = JSON.parse(listed.stdout) as { members: { name: string }[]; quarantined: { name: string; kind: string; reason: string }[] };
    // The check runs only in watchers (prepare publishes no status): members --json shows what it can know without one.
    expect(json.members.map((m) => m.name)).toEqual(['10.0.0.1:80', '10.0.0.2:80', '10.0.0.4:6666', '10.0.0.5:6666']);
    expect(json.quarantined.map((q) => [q.name, q.kind])).toEqual([
      ['10.0.0.3:80', 'limits'],
      ['169.254.169.254:80', 'address'],
    ]);
  });

  it('a watcher installs removals past a bad member, takes it back once its value changes, and logs it once', async () => {
    const path = '/clusters/q-watch';
    await etcd.ctl('put', `${path}/10.0.1.1:80`, '');
    await etcd.ctl('put', `${path}/10.0.1.2:80`, '');
    const { conf, members } = await setup(path, { check: ['sh', '-c', '! grep -q "\\"bad\\"" "$0"', '{src}'] }, { format: 'objects' });
    const names = async () => ((await members()) as unknown as { name: string }[]).map((m) => m.name);
    const watch = spawnCli(['--conf', conf, 'watch', 'web', '0']);
    running.push(watch);
    await waitFor(async () => (await names().catch(() => [])).length === 2, { what: 'the first install' });

    // A new member whose meta the check refuses, and at once the removal of a dead one.
    await etcd.ctl('put', `${path}/10.0.1.3:80`, '{"state":"bad"}');
    await etcd.ctl('del', `${path}/10.0.1.1:80`);
    await etcd.ctl('put', `${path}/10.0.1.4:80`, '');
    await waitFor(async () => JSON.stringify(await names()) === JSON.stringify(['10.0.1.2:80', '10.0.1.4:80']), { what: 'the removal and the good add' });
    await watch.waitForLog(/member 10\.0\.1\.3:80 quarantined \(check\)/);
    // The check runs in the watcher; members --json learns its verdict from the watcher's status.
    type Listed = { members: { name: string }[]; quarantined: { name: string; kind: string; reason: string; reportedBy?: string[] }[] };
    const listed = (await waitFor(
      async () => {
        const res = await runCli(['--conf', conf, 'members', 'web', '--json']);
        const json = JSON.parse(res.stdout) as Listed;
        return json.quarantined.some((q) => q.kind === 'check') ? json : undefined;
      },
      { what: "members --json showing the watcher's check quarantine" },
    ))!;
    expect(listed.quarantined).toEqual([
      { name: '10.0.1.3:80', key: `${path}/10.0.1.3:80`, kind: 'check', reason: expect.stringMatching(/check exited with code 1/), reportedBy: [expect.stringMatching(/:\d+:[0-9a-f]{4}$/)] },
    ]);
    expect(listed.members.map((m) => m.name)).toEqual(['10.0.1.2:80', '10.0.1.4:80']);
    expect((await runCli(['--conf', conf, 'members', 'web'])).stdout).toBe('10.0.1.2:80\n10.0.1.4:80\n');

    // Other changes do not bring it back or log it again...
    await etcd.ctl('put', `${path}/10.0.1.5:80`, '');
    await waitFor(async () => (await names()).includes('10.0.1.5:80'), { what: 'another add' });
    expect(await names()).not.toContain('10.0.1.3:80');
    // ...its new value does.
    await etcd.ctl('put', `${path}/10.0.1.3:80`, '{"state":"good"}');
    await waitFor(async () => (await names()).includes('10.0.1.3:80'), { what: 'the fixed member' });
    expect(
      watch
        .stderr()
        .split('\n')
        .filter((l) => /10\.0\.1\.3:80 quarantined/.test(l)),
    ).toHaveLength(1);
    watch.kill('SIGTERM');
    expect((await watch.exited()).code).toBe(0);
  });

  it('run: an install that keeps failing is retried on a timer, and /readyz says the file is not current meanwhile', async () => {
    const path = '/clusters/q-retry';
    await etcd.ctl('put', `${path}/10.0.2.1:80`, '');
    const { dir, conf, members } = await setup(path, { check: undefined });
    const metricsPort = await freePort();
    const base = `http://127.0.0.1:${metricsPort}`;
    const run = spawnCli(['--conf', conf, 'run', '--metrics', `127.0.0.1:${metricsPort}`, '--', 'sleep', '1000']);
    running.push(run);
    await waitFor(async () => (await fetch(`${base}/readyz`).catch(() => undefined))?.status === 200, { what: 'ready' });
    expect(await members()).toEqual(['10.0.2.1:80']);

    // The directory becomes one a root daemon must not write into: installs fail (nothing written).
    await chmod(dir, 0o777);
    await etcd.ctl('put', `${path}/10.0.2.2:80`, '');
    await waitFor(async () => (await fetch(`${base}/readyz`)).status === 503, { what: '/readyz 503' });
    const body = await (await fetch(`${base}/readyz`)).text();
    expect(body).toMatch(/cluster web: .*members\.json not current: could not write .*writable by others/);
    expect(await members()).toEqual(['10.0.2.1:80']);

    // Fixed by the operator, with no change in etcd: the retry timer installs it.
    await chmod(dir, 0o755);
    await waitFor(async () => JSON.stringify(await members()) === JSON.stringify(['10.0.2.1:80', '10.0.2.2:80']), { what: 'the retried install', timeoutMs: 15_000 });
    await waitFor(async () => (await fetch(`${base}/readyz`)).status === 200, { what: 'ready again' });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/cluster_control_file_current\{cluster="web"\} 1/);
    run.kill('SIGTERM');
    expect((await run.exited()).code).toBe(0);
  });
});
