import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EtcdConnection } from '@cluster-control/core';
import { connectEtcd } from '@cluster-control/core/etcd';
import { runCli, spawnCli, tempDir, writeJson } from '#test-support/cli.js';
import { type EtcdServer, haveEtcd, startEtcd } from '#test-support/etcd-server.js';
import { Churn, ExpiryMonitor, type Registrant, type Watcher, lostChanges, startRegistrant, startWatcher, waitConverged } from './harness.js';
import { recordResult } from './results.js';
import { OPENSSL, type Pki, makePki } from '#test-support/pki.js';

/*
 * 9. TLS: etcd serves clients over TLS and requires client certificates (--client-cert-auth),
 * with a CA, a server certificate (SAN IP:127.0.0.1) and client certificates the test makes with
 * openssl.
 * - Registration (heartbeat) and watching (watch) work through `etcd.tls {ca, cert, key}` with
 *   https endpoints, under churn and across etcd restarts: nothing lost, no false expiry.
 * - A wrong CA, no client certificate, or a client certificate from a CA etcd does not trust:
 *   every command (members, prepare, heartbeat, watch) prints one clear line and exits 1 at once
 *   — no retries, no hang, no stack trace.
 */
const PATH = '/faults/tls';
const POOL = 39; // odd: with an even pool Churn stops changing the member set after one pass
const RESTARTS = 2;

describe.skipIf(!haveEtcd)('9 TLS with client-certificate auth', () => {
  let pki: Pki | undefined;
  let etcd: EtcdServer | undefined;
  let client: EtcdConnection | undefined;
  let churn: Churn | undefined;
  let monitor: ExpiryMonitor | undefined;
  const watchers: Watcher[] = [];
  const registrants: Registrant[] = [];
  const dirs: string[] = [];

  beforeAll(async () => {
    expect(existsSync(OPENSSL) || process.env.CI !== 'true', `${OPENSSL} is needed`).toBe(true);
    pki = await makePki('cc-fault-pki-');
    etcd = await startEtcd({ tls: { cert: pki.serverCert, key: pki.serverKey, ca: pki.ca, clientCert: pki.clientCert, clientKey: pki.clientKey } });
    client = await connectEtcd({ endpoints: [etcd.endpoint], tls: { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey }, timeoutMs: 2000 });
  });

  afterAll(async () => {
    monitor?.stop();
    await churn?.stop();
    for (const p of [...watchers.map((w) => w.proc), ...registrants.map((r) => r.proc)]) p.kill('SIGKILL');
    for (const w of watchers) dirs.push(dirname(w.file));
    for (const r of registrants) dirs.push(dirname(r.proc.child.spawnargs[r.proc.child.spawnargs.indexOf('--conf') + 1]!));
    client?.close();
    await etcd?.dispose();
    if (pki) dirs.push(pki.dir);
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('9 TLS: heartbeat and watch through client certificates, under churn and etcd restarts', async () => {
    const tls = { tls: { ca: pki!.ca, cert: pki!.clientCert, key: pki!.clientKey } };
    const endpoints = [etcd!.endpoint];
    expect(etcd!.endpoint).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    churn = new Churn(client!, PATH, { intervalMs: 50, poolSize: POOL, subnet: 9 }).start();
    watchers.push(await startWatcher(endpoints, PATH, { etcd: tls }), await startWatcher(endpoints, PATH, { etcd: tls }));
    const node = await startRegistrant(endpoints, `${PATH}/10.99.0.1:443`, 10, tls);
    registrants.push(node);
    monitor = new ExpiryMonitor(client!, [node]).start();
    await new Promise((r) => setTimeout(r, 2000));
    let worstConvergeMs = await waitConverged(client!, PATH, watchers, 20_000);

    for (let i = 0; i < RESTARTS; i++) {
      await etcd!.stop();
      await new Promise((r) => setTimeout(r, 1000));
      await etcd!.start();
      worstConvergeMs = Math.max(worstConvergeMs, await waitConverged(client!, PATH, watchers, 30_000));
      await new Promise((r) => setTimeout(r, 2000)); // churn on the restarted etcd
    }

    await churn.stop();
    worstConvergeMs = Math.max(worstConvergeMs, await waitConverged(client!, PATH, watchers, 30_000));
    let lost = 0;
    for (const w of watchers) lost += await lostChanges(client!, PATH, w);
    monitor.stop();
    for (const w of watchers) {
      expect(await w.members()).toContain('10.99.0.1:443');
      expect(w.proc.child.exitCode).toBeNull();
      expect(w.proc.stderr()).not.toMatch(/DeprecationWarning|TLS:/);
    }
    expect(node.proc.child.exitCode).toBeNull();
    expect(node.proc.stderr()).not.toMatch(/DeprecationWarning|TLS:|registering again/);

    recordResult({
      scenario: `9 TLS client certificates, etcd restarts x${RESTARTS}`,
      runs: RESTARTS,
      changesMade: churn.made,
      changesLost: lost,
      falseExpiries: monitor.falseExpiries,
      worstConvergeMs,
      note: '2 watchers and a heartbeat over https with etcd.tls {ca, cert, key}; etcd --client-cert-auth',
    });
    expect(lost).toBe(0);
    expect(monitor.falseExpiries).toBe(0);
    for (const w of watchers) await w.stop();
    await node.stop();
    expect(await client!.range({ key: node.key, prefix: false }).then((r) => r.kvs.length)).toBe(0); // deregistered over TLS too
  });

  it('9 TLS: a wrong CA, no client certificate or a foreign one is one clear line and exit 1', async () => {
    const dir = await tempDir('cc-fault-tls-bad-');
    dirs.push(dir);
    const cases: { name: string; tls: Record<string, string> | undefined; message: RegExp }[] = [
      { name: 'wrong CA', tls: { ca: pki!.wrongCa, cert: pki!.clientCert, key: pki!.clientKey }, message: /TLS: etcd's certificate is not trusted \(.+\); etcd\.tls\.ca must be/ },
      { name: 'no tls section (system CAs)', tls: undefined, message: /TLS: etcd's certificate is not trusted/ },
      { name: 'no client certificate', tls: { ca: pki!.ca }, message: /TLS: etcd refused this client's certificate \(alert: .+\); etcd\.tls\.cert and etcd\.tls\.key/ },
      { name: 'client certificate of another CA', tls: { ca: pki!.ca, cert: pki!.foreignCert, key: pki!.foreignKey }, message: /TLS: etcd refused this client's certificate/ },
    ];
    const commands = [['members', 'c', '--timeout', '3'], ['prepare', 'c', '--timeout', '3'], ['heartbeat'], ['watch', 'c', '0']];
    const failures: string[] = [];
    let worst = 0;
    let checked = 0;
    for (const c of cases) {
      const conf = await writeJson(join(dir, `${c.name.replace(/\W+/g, '-')}.conf`), {
        etcd: { endpoints: [etcd!.endpoint], timeoutMs: 2000, ...(c.tls ? { tls: c.tls } : {}) },
        self: { key: `${PATH}-bad/10.99.9.9:443`, ttl: 10 },
        clusters: [{ name: 'c', path: PATH, handler: 'json', handlerConfig: join(dir, 'c.json') }],
      });
      const results = await Promise.all(
        commands.map(async (args) => {
          const started = Date.now();
          const proc = spawnCli(['--conf', conf, ...args]);
          const res = await proc.exited(20_000).catch((err: unknown) => {
            proc.kill('SIGKILL');
            throw err;
          });
          return { args, res, ms: Date.now() - started };
        }),
      );
      for (const { args, res, ms } of results) {
        checked++;
        worst = Math.max(worst, ms);
        const lines = res.stderr.trim().split('\n');
        const what = `${c.name}, ${args.join(' ')}: exit ${res.code} after ${ms} ms, stderr:\n${res.stderr}`;
        if (res.code !== 1 || lines.length !== 1 || !c.message.test(lines[0]!) || !lines[0]!.startsWith('cluster-control: ') || /\n\s+at /.test(res.stderr)) failures.push(what);
        // Not retried: a retry logs a "retrying" line (members/prepare), and heartbeat and watch
        // would retry forever instead of exiting.
        if (/retrying/.test(res.stderr)) failures.push(`${what}\n(retried)`);
      }
    }
    expect(failures).toEqual([]);
    // And the key that a refused heartbeat would have written is not there.
    expect(
      (
        await runCli([
          '--conf',
          await writeJson(join(dir, 'ok.conf'), {
            etcd: { endpoints: [etcd!.endpoint], tls: { ca: pki!.ca, cert: pki!.clientCert, key: pki!.clientKey } },
            clusters: [{ name: 'bad', path: `${PATH}-bad`, handler: 'json', handlerConfig: join(dir, 'bad.json') }],
          }),
          'members',
          'bad',
        ])
      ).stdout,
    ).toBe('');

    recordResult({
      scenario: '9 TLS refused: wrong CA, no or foreign client cert',
      runs: checked,
      changesMade: 0,
      changesLost: 0,
      falseExpiries: 0,
      worstConvergeMs: 0,
      note: `${cases.length} configurations x members/prepare/heartbeat/watch: one line, exit 1, slowest ${worst} ms`,
    });
  });
});
