import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { appendFile, chmod, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { APACHE_BIN, APACHE_MODULES, get, haveApache, writeApacheConf } from '#test-support/apache.js';
import { type CliProcess, runCli, spawnCli, tempDir } from '#test-support/cli.js';
import { type EtcdServer, freePort, haveEtcd, startEtcd } from '#test-support/etcd-server.js';

// The PHP version's sample apache startup script (../shared/seed/: prepare redis and mysql, watch
// both with `apachectl graceful`, heartbeat, watchkey → graceful-stop, apache in the foreground,
// removekey at the end) as the one `run` line the README gives, run with Debian's real apache2.

/**
 * The README's line, used until README.md has it after the `<!-- run-apache -->` marker (then the
 * README wins: see readmeRunLine). `mkdir -p` because apache2, unlike apache2ctl, does not create
 * Debian's run and lock directories (/run/apache2 is gone after a reboot and in a fresh container),
 * and Debian's apache2.conf does not start without the run directory ("DefaultRuntimeDir must be a
 * valid directory"); the lock directory is the other one apache2ctl creates (`Mutex
 * file:${APACHE_LOCK_DIR}`, mod_dav_fs).
 */
const README_RUN_LINE = `cluster-control run --ready-http http://127.0.0.1/ --reload-signal SIGUSR1 --stop-signal SIGWINCH -- sh -c '. /etc/apache2/envvars && mkdir -p "$APACHE_RUN_DIR" "$APACHE_LOCK_DIR" && exec apache2 -DFOREGROUND'`;

const README = resolve(import.meta.dirname, '../../../README.md');
const MARKER = '<!-- run-apache -->';

/** The `cluster-control run` line of the code block after `<!-- run-apache -->` in README.md (README_RUN_LINE until it is there). */
function readmeRunLine(): { line: string; from: string } {
  const text = readFileSync(README, 'utf8');
  const at = text.indexOf(MARKER);
  if (at < 0) return { line: README_RUN_LINE, from: `README_RUN_LINE (no ${MARKER} in README.md yet)` };
  const block = /```[^\n]*\n([\s\S]*?)```/.exec(text.slice(at + MARKER.length));
  if (!block) throw new Error(`README.md: no code block after ${MARKER}`);
  const lines = block[1]!
    .replace(/\\\n[ \t]*/g, ' ') // a line continued with a backslash
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('cluster-control run '));
  if (lines.length !== 1) throw new Error(`README.md: expected one "cluster-control run" line in the block after ${MARKER}, found ${lines.length}`);
  return { line: lines[0]!, from: 'README.md' };
}

/** Replaces `from` (which must occur exactly once, so README drift fails loudly) with `to`. */
function substitute(line: string, from: string, to: string): string {
  const parts = line.split(from);
  if (parts.length !== 2) throw new Error(`the run line should contain ${JSON.stringify(from)} once: ${line}`);
  return parts.join(to);
}

/** The line's words as a real shell splits them (quotes and all; no globbing, no expansion outside them). */
function shellWords(line: string): string[] {
  const out = execFileSync('sh', ['-c', `set -f; set -- ${line}; printf '%s\\0' "$@"`], { encoding: 'utf8' });
  return out.split('\0').slice(0, -1);
}

/** Sends a signal; false when the process is gone. */
function signal(pid: number, sig: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

/** `[2026-11-25 16:09:35.211064] [mpm_event:notice] [pid 3484] AH00493: ...` (ErrorLogFormat below, apache in TZ=UTC). */
interface LogLine {
  at: number;
  text: string;
}
function parseErrorLog(text: string): LogLine[] {
  const lines: LogLine[] = [];
  for (const line of text.split('\n')) {
    const m = /^\[(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d\.\d+)\] (.*)$/.exec(line);
    if (m) lines.push({ at: Date.parse(`${m[1]}T${m[2]!.slice(0, 12)}Z`), text: m[3]! });
  }
  return lines;
}

/**
 * Polls `check` until truthy; fails at once, with run's stderr, if run has exited meanwhile (a
 * server that cannot start should not cost the whole timeout), and with its stderr on timeout.
 */
async function until(run: CliProcess, check: () => Promise<unknown>, what: string | (() => string), timeoutMs = 30_000, intervalMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    const exited = run.child.exitCode !== null || run.child.signalCode !== null;
    if (exited || Date.now() > deadline) {
      const stderr = run.stderr();
      const hint = /DefaultRuntimeDir must be a valid directory/.test(stderr)
        ? '\n(apache2, unlike apache2ctl, does not create $APACHE_RUN_DIR and $APACHE_LOCK_DIR: the run line must mkdir -p them)'
        : '';
      throw new Error(
        `${exited ? `run exited (${run.child.exitCode ?? run.child.signalCode})` : `timed out after ${timeoutMs} ms`} waiting for ${typeof what === 'string' ? what : what()}; run stderr:\n${stderr}${hint}`,
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

const GRACEFUL_RESTART = /SIGUSR1 received\.\s+Doing graceful restart/;
const GRACEFUL_STOP = /caught SIGWINCH, shutting down gracefully/;
const RESUMING = /configured -- resuming normal operations/;

describe.skipIf(!haveEtcd || !haveApache)('the PHP sample apache startup script as one `run` line, with Debian apache2', () => {
  let etcd: EtcdServer;
  let dir: string;
  let port: number;
  let selfKey: string;
  let errorLog: string;
  let argv: string[];
  let env: NodeJS.ProcessEnv;
  const started: CliProcess[] = [];

  const count = (lines: LogLine[], pattern: RegExp) => lines.filter((l) => pattern.test(l.text)).length;
  const log = async (from = 0) => parseErrorLog((await readFile(errorLog, 'utf8').catch(() => '')).slice(from));
  const file = (name: string) => readFile(join(dir, name), 'utf8');
  /** Whether apache answers at all, and with what; `undefined` when nothing listens. */
  const status = () =>
    get(port).then(
      (r) => r.status,
      () => undefined,
    );
  /** The own key, straight from etcd's JSON gateway (cheap enough to poll every 20 ms). */
  const keyExists = async () => {
    const res = await fetch(`${etcd.endpoint}/v3/kv/range`, { method: 'POST', body: JSON.stringify({ key: Buffer.from(selfKey).toString('base64'), count_only: true }) });
    if (!res.ok) throw new Error(`etcd range: HTTP ${res.status}`);
    return Number(((await res.json()) as { count?: string }).count ?? 0) > 0;
  };
  const apacheProcesses = () =>
    new Promise<string>((res) =>
      execFile('pgrep', ['-af', dir], (_err, stdout) =>
        res(
          stdout
            .split('\n')
            .filter((l) => l && !/\bpgrep\b/.test(l))
            .join('\n'),
        ),
      ),
    );
  /** 6. No process with the temp dir in its command line (apache, its children, run, sh) is left. */
  const nothingLeft = async () => {
    const deadline = Date.now() + 10_000;
    let left = await apacheProcesses();
    while (left !== '' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      left = await apacheProcesses();
    }
    expect(left, `processes of ${dir} still running`).toBe('');
  };
  const startRun = () => {
    const proc = spawnCli(argv, { cwd: dir, env });
    started.push(proc);
    return proc;
  };

  beforeAll(async () => {
    etcd = await startEtcd();
    dir = await tempDir('cc-run-apache-');
    await chmod(dir, 0o755); // apache's children (www-data when we are root) serve files from here
    port = await freePort();
    selfKey = `/clusters/webapp/127.0.0.1:${port}`;

    // The PHP sample's configuration, as an operator writes it: PHP handler class names, handlerConfig a file name.
    const endpoint = new URL(etcd.endpoint);
    await writeFile(
      join(dir, 'cluster-control.conf'),
      String.raw`{
    "etcd": {
        "host": "${endpoint.hostname}",
        "port": ${endpoint.port}
    },
    "self": {
        "key": "${selfKey}",
        "ttl": 60,
        "heartbeat": 30
    },
    "clusters": [
        {
            "name": "redis",
            "path": "/clusters/redis",
            "handler": "AlanKent\\ClusterControl\\Handlers\\RedisHandler",
            "handlerConfig": "redis.yml"
        },
        {
            "name": "mysql",
            "path": "/clusters/mysql",
            "handler": "AlanKent\\ClusterControl\\Handlers\\MySQLHandler",
            "handlerConfig": "mysql.json"
        }
    ]
}
`,
    );

    // Apache: the minimal config plus what Debian's apache2.conf takes from envvars (so the run line
    // must really source them and create the directories), a document root, and a parseable log.
    const htdocs = join(dir, 'htdocs');
    await mkdir(htdocs, { mode: 0o755 });
    const site = join(dir, 'site.conf');
    await writeFile(
      site,
      [
        "# As in Debian's /etc/apache2/apache2.conf: paths from envvars",
        'DefaultRuntimeDir ${APACHE_RUN_DIR}',
        'PidFile ${APACHE_PID_FILE}',
        'ErrorLog ${APACHE_LOG_DIR}/error.log',
        'LogLevel notice',
        'ErrorLogFormat "[%{cu}t] [%-m:%l] [pid %P] %M"',
        `LoadModule dir_module ${APACHE_MODULES}/mod_dir.so`,
        `DocumentRoot "${htdocs}"`,
        'DirectoryIndex index.html',
        `<Directory "${htdocs}">`,
        '    Require all granted',
        '</Directory>',
        '',
      ].join('\n'),
    );
    const setup = await writeApacheConf(dir, port, [site]);
    errorLog = setup.errorLog;
    const envvars = setup.env.APACHE_ENVVARS!;
    // Sourced by the run line's sh right before `exec apache2`: keep what the cluster files held then.
    await appendFile(envvars, `mkdir -p ${dir}/at-start && for f in redis.yml mysql.json; do [ -f ${dir}/$f ] && cp ${dir}/$f ${dir}/at-start/; done; true\n`);

    // Only what the test must change: its envvars, its config (-f), its port. `apache2` is found on
    // PATH as in the README (APACHE_BIN's directory is put first).
    const { line, from } = readmeRunLine();
    let ours = substitute(line, '/etc/apache2/envvars', envvars);
    ours = substitute(ours, 'exec apache2 -DFOREGROUND', `exec apache2 -f ${setup.conf} -DFOREGROUND`);
    ours = substitute(ours, 'http://127.0.0.1/', `http://127.0.0.1:${port}/`);
    const words = shellWords(ours);
    expect(words[0], `the run line (from ${from})`).toBe('cluster-control');
    argv = words.slice(1);
    env = { PATH: `${dirname(APACHE_BIN)}:${process.env.PATH ?? '/usr/bin:/bin'}`, TZ: 'UTC' };

    // The redis and mysql servers are registered (nutcracker refuses a pool without servers).
    await etcd.ctl('put', '/clusters/redis/10.0.0.21:6379', '');
    await etcd.ctl('put', '/clusters/mysql/10.0.0.31:3306', '');
  });

  /** After a failure: stop what this file started (run, then apache and its children), by pid. */
  const cleanUp = async () => {
    for (const proc of started) if (proc.child.exitCode === null && proc.child.signalCode === null) proc.kill('SIGKILL');
    const pid = Number(await readFile(join(dir, 'apache2.pid'), 'utf8').catch(() => ''));
    if (pid > 0 && signal(pid, 'SIGTERM')) {
      // apache's parent stops its children on SIGTERM (a SIGKILLed parent would leave them behind)
      const deadline = Date.now() + 5000;
      while (signal(pid, 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    }
    for (const line of (await apacheProcesses()).split('\n')) {
      const left = Number(line.split(' ')[0]);
      if (left > 0) signal(left, 'SIGKILL');
    }
  };

  afterEach(async () => {
    if (dir) await cleanUp();
  });

  afterAll(async () => {
    await etcd?.dispose();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('--check-config prints the plan the line means, starting nothing', async () => {
    const checked = await runCli([...argv.slice(0, argv.indexOf('--')), '--check-config', ...argv.slice(argv.indexOf('--'))], { cwd: dir, env });
    expect(checked.code, checked.stderr).toBe(0);
    expect(checked.stdout).toContain(`register: ${selfKey} (ttl 60s, heartbeat 30s)`);
    expect(checked.stdout).toMatch(/^cluster redis: \/clusters\/redis\/ → .*\/redis\.yml \(redis\); signal: SIGUSR1$/m);
    expect(checked.stdout).toMatch(/^cluster mysql: \/clusters\/mysql\/ → .*\/mysql\.json \(mysql\); signal: SIGUSR1$/m);
    expect(checked.stdout).toMatch(/; ready: http http:\/\/127\.0\.0\.1:\d+\/; stop: SIGWINCH, SIGKILL after 10s; drain 2s$/m);
    expect(await keyExists()).toBe(false);
    expect(await status()).toBeUndefined();
  });

  it('prepares both files first, registers only once apache serves, graceful-restarts it on changes, and stops it gracefully on removekey', async () => {
    // Apache answers / with 404 until index.html exists: up, but not ready in the line's sense (2xx).
    const run = startRun();
    await until(run, async () => (await status()) === 404, 'apache answering 404 (no index.html yet)');
    const apachePid = Number(await file('apache2.pid'));
    const shPid = Number(/started sh -c .* \(pid (\d+)\)/.exec(run.stderr())?.[1]);
    expect(apachePid, 'exec: apache is the process run started, so signals reach it').toBe(shPid);

    // 1. Before apache started, both files existed with current content: the envvars snapshot.
    const redisAtStart = await file('at-start/redis.yml');
    expect(redisAtStart).toMatch(/^redis:\n {2}listen: 127\.0\.0\.1:22121\n/m);
    expect(redisAtStart).toMatch(/^ {2}servers:\n {3}- 10\.0\.0\.21:6379:1\n/m);
    expect(JSON.parse(await file('at-start/mysql.json'))).toEqual([{ name: '10.0.0.31:3306', host: '10.0.0.31', port: 3306 }]);
    expect(await file('redis.yml')).toBe(redisAtStart);
    const apacheStarted = (await log()).find((l) => RESUMING.test(l.text))!.at;
    for (const name of ['redis.yml', 'mysql.json']) expect((await stat(join(dir, name))).mtimeMs, `${name} written before apache started`).toBeLessThan(apacheStarted);

    // 2. The key stays absent while apache answers non-2xx (1.5 s, polled every 20 ms)...
    const notReadyUntil = Date.now() + 1500;
    let polls = 0;
    while (Date.now() < notReadyUntil) {
      expect(await keyExists(), 'own key registered before apache answered 2xx').toBe(false);
      expect(await status()).toBe(404);
      polls++;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(polls).toBeGreaterThan(10);
    // ...and appears once it answers 2xx: first 2xx seen no later than the key.
    await writeFile(join(dir, 'htdocs', 'index.html'), 'webapp\n', { mode: 0o644 });
    let first2xx: number | undefined;
    let firstKey: number | undefined;
    await until(
      run,
      async () => {
        const s = await status();
        if (first2xx === undefined && s !== undefined && s >= 200 && s < 300) first2xx = Date.now();
        if (firstKey === undefined && (await keyExists())) firstKey = Date.now();
        return firstKey !== undefined;
      },
      'the own key after apache answered 2xx',
    );
    expect(first2xx, 'apache answered 2xx before the key was seen').toBeDefined();
    expect(first2xx!).toBeLessThanOrEqual(firstKey!);
    await run.waitForLog(/ready: registered and watching/);
    expect(run.stderr()).toMatch(/the server is ready[\s\S]*registered \/clusters\/webapp/);

    // 3. Each replacement (redis twice, mysql once) rewrites the file and gracefully restarts apache once.
    const changes: { change: () => Promise<unknown>; done: () => Promise<boolean> }[] = [
      {
        change: () => etcd.ctl('put', '/clusters/redis/10.0.0.22:6379', ''),
        done: async () => (await file('redis.yml')).includes('   - 10.0.0.21:6379:1\n   - 10.0.0.22:6379:1\n'),
      },
      {
        change: () => etcd.ctl('del', '/clusters/redis/10.0.0.21:6379'),
        done: async () => /servers:\n {3}- 10\.0\.0\.22:6379:1\n$/.test(await file('redis.yml')),
      },
      {
        change: () => etcd.ctl('put', '/clusters/mysql/10.0.0.32:3306', ''),
        done: async () => (JSON.parse(await file('mysql.json')) as { host: string }[]).map((s) => s.host).join() === '10.0.0.31,10.0.0.32',
      },
    ];
    for (const [i, { change, done }] of changes.entries()) {
      await change();
      await until(run, done, `file rewritten after change ${i + 1}`);
      // One graceful restart per replacement, and apache back up (configured again) before the next.
      await until(
        run,
        async () => count(await log(), GRACEFUL_RESTART) === i + 1 && count(await log(), RESUMING) === i + 2,
        () => `graceful restart ${i + 1} in apache's error log:\n${readFileSync(errorLog, 'utf8')}`,
      );
      expect(await status()).toBe(200);
      expect(Number(await file('apache2.pid')), 'a graceful restart keeps the parent').toBe(apachePid);
    }
    expect(run.stderr().match(/: sending SIGUSR1 to the server/g)).toHaveLength(3);
    await new Promise((r) => setTimeout(r, 500));
    expect(count(await log(), GRACEFUL_RESTART), 'no extra restarts').toBe(3);
    expect(await keyExists()).toBe(true);

    // 4. The operator's removal, with the same config: apache stops gracefully, run exits 0.
    const removed = await runCli(['removekey'], { cwd: dir, env });
    expect(removed.code, removed.stderr).toBe(0);
    const end = await run.exited(30_000);
    expect(end.code, end.stderr).toBe(0);
    expect(end.stderr).toMatch(/removed by an operator[\s\S]*stopping the server with SIGWINCH[\s\S]*run ended \(removed\); exit code 0/);
    expect(count(await log(), GRACEFUL_STOP)).toBe(1);
    expect(await status()).toBeUndefined();
    expect(await keyExists()).toBe(false);
    expect(end.stdout).toBe('');

    // 6. Nothing left running.
    await nothingLeft();
  }, 120_000);

  it('on SIGTERM deregisters first, drains while apache still serves, then stops it gracefully and exits 0', async () => {
    await writeFile(join(dir, 'htdocs', 'index.html'), 'webapp\n', { mode: 0o644 }); // ready at once this time
    const logFrom = (await readFile(errorLog, 'utf8').catch(() => '')).length;
    const run = startRun();
    await until(run, keyExists, 'the own key');
    await run.waitForLog(/ready: registered and watching/);
    expect(await status()).toBe(200);

    // 5. Poll the key and apache every 20 ms from just before SIGTERM until run has exited.
    const samples: { at: number; key: boolean; status: number | undefined }[] = [];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const [key, s] = await Promise.all([keyExists(), status()]);
        samples.push({ at: Date.now(), key, status: s });
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await new Promise((r) => setTimeout(r, 200));
    const termAt = Date.now();
    run.kill('SIGTERM');
    const end = await run.exited(30_000);
    polling = false;
    await poller;
    expect(end.code, end.stderr).toBe(0);
    expect(end.stderr).toMatch(/deregistered[\s\S]*draining for 2000 ms[\s\S]*stopping the server with SIGWINCH[\s\S]*run ended \(shutdown\); exit code 0/);

    const lines = await log(logFrom);
    expect(count(lines, GRACEFUL_STOP)).toBe(1);
    const stopSignalAt = lines.find((l) => GRACEFUL_STOP.test(l.text))!.at;
    const gone = samples.findIndex((s) => s.at > termAt && !s.key);
    expect(gone, 'key deleted after SIGTERM').toBeGreaterThanOrEqual(0);
    const keyGoneAt = samples[gone]!.at; // the deletion happened before this
    const servedAfter = samples.slice(gone + 1).filter((s) => s.status === 200);
    const refused = samples.findIndex((s) => s.at > termAt && s.status === undefined);
    // Apache still served after the key was gone (the drain), stopped answering only later, and
    // logged SIGWINCH about --drain (2 s) after the key was gone.
    expect(servedAfter.length, 'requests apache served after the key was gone').toBeGreaterThan(5);
    expect(refused, 'apache stopped answering only after the key was gone').toBeGreaterThan(gone);
    expect(stopSignalAt - keyGoneAt, 'ms from the key gone to apache logging SIGWINCH').toBeGreaterThan(1000);
    expect(
      samples.slice(gone).filter((s) => s.key),
      'the key stays gone',
    ).toEqual([]);
    expect(await status()).toBeUndefined();

    // 6. Nothing left running.
    await nothingLeft();
  }, 120_000);
});
