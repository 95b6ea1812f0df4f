import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger, silentLogger } from '../util/log.js';
import { createMetrics } from '../util/metrics.js';
import { MAX_MEMBERS_ENV_BYTES } from '../sync/reload-env.js';
import { DEFAULT_RELOAD_MIN_INTERVAL_MS, Reloader, type ReloaderOptions } from './reloader.js';

let dir: string;
const reloaders: Reloader[] = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cc-reload-'));
});
afterEach(async () => {
  await Promise.all(reloaders.splice(0).map((r) => r.close()));
  await rm(dir, { recursive: true, force: true });
});

const envFor = () => ({ CLUSTER_CONTROL_CLUSTER: 'web', CLUSTER_CONTROL_FILE: '/etc/web.conf', CLUSTER_CONTROL_MEMBERS: 'a:1 b:2' });
// No rate limit unless a test asks for one: these tests are about runs, retries and coalescing.
function reloader(options: Partial<ReloaderOptions>): Reloader {
  const r = new Reloader({ timeoutMs: 5000, envFor, logger: silentLogger, cluster: 'web', backoff: { initialMs: 20, maxMs: 100 }, minIntervalMs: 0, ...options });
  reloaders.push(r);
  return r;
}
const lines = async (path: string) => (await readFile(path, 'utf8').catch(() => '')).split('\n').filter(Boolean);
const reloads = (metrics: ReturnType<typeof createMetrics>, result: 'ok' | 'failed') => metrics.get('cluster_control_reloads_total', { cluster: 'web', result });

describe('Reloader', () => {
  it('a reload command that cannot be started ends with exit code 127, as in a shell', async () => {
    const outcomes: unknown[] = [];
    const logged: string[] = [];
    const r = reloader({
      argv: ['/nonexistent/cc-reload', 'graceful'],
      onRunEnd: (o) => outcomes.push(o),
      logger: createLogger({ write: (l) => logged.push(l) }),
      backoff: { initialMs: 60_000, maxMs: 60_000 },
    });
    r.request();
    await vi.waitFor(() => expect(outcomes).toHaveLength(1));
    expect(outcomes[0]).toEqual({ ok: false, exitCode: 127, output: 'could not be started: command not found: /nonexistent/cc-reload (exit 127)' });
    expect(logged.join('\n')).toContain('reload for cluster web could not be started: command not found: /nonexistent/cc-reload (exit 127)');
  });

  it('runs the command with process.env plus the cluster variables', async () => {
    const out = join(dir, 'env');
    const r = reloader({ argv: ['sh', '-c', 'env > "$0"', out] });
    r.request();
    await r.idle();
    const env = await readFile(out, 'utf8');
    expect(env).toContain('CLUSTER_CONTROL_CLUSTER=web\n');
    expect(env).toContain('CLUSTER_CONTROL_FILE=/etc/web.conf\n');
    expect(env).toContain('CLUSTER_CONTROL_MEMBERS=a:1 b:2\n');
    expect(env).toContain(`PATH=${process.env.PATH}\n`);
  });

  it('starts with a member list as long as reloadEnvironment ever passes (no E2BIG)', async () => {
    const out = join(dir, 'length');
    const members = 'm'.repeat(MAX_MEMBERS_ENV_BYTES);
    const metrics = createMetrics();
    const r = reloader({ argv: ['sh', '-c', 'printf %s "$CLUSTER_CONTROL_MEMBERS" | wc -c > "$0"', out], envFor: () => ({ CLUSTER_CONTROL_MEMBERS: members }), metrics });
    r.request();
    await r.idle();
    expect(Number((await readFile(out, 'utf8')).trim())).toBe(MAX_MEMBERS_ENV_BYTES);
    expect(reloads(metrics, 'ok')).toBe(1);
  });

  it('coalesces requests made during a run into one more run, which starts after the last request', async () => {
    const log = join(dir, 'runs');
    let requests = 0;
    const metrics = createMetrics();
    // Each run records how many requests had been made when it started.
    const r = reloader({ argv: ['sh', '-c', 'echo "$SEEN" >> "$0"; sleep 0.2', log], envFor: () => ({ SEEN: String(requests) }), metrics });
    for (let i = 0; i < 10; i += 1) {
      requests += 1;
      r.request();
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await r.idle();
    const runs = await lines(log);
    expect(runs.length).toBeGreaterThanOrEqual(1);
    expect(runs.length).toBeLessThanOrEqual(3);
    expect(runs.at(-1)).toBe('10');
    expect(reloads(metrics, 'ok')).toBe(runs.length);
  });

  it('retries a failing command with backoff until it succeeds, logging the output', async () => {
    const counter = join(dir, 'count');
    const metrics = createMetrics();
    const logged: string[] = [];
    const script = 'n=$(cat "$0" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$0"; [ $n -ge 3 ] || { echo "attempt $n broke" >&2; exit 1; }';
    const r = reloader({ argv: ['sh', '-c', script, counter], metrics, logger: createLogger({ write: (l) => logged.push(l) }) });
    r.request();
    await r.idle();
    expect(await lines(counter)).toEqual(['3']);
    expect(reloads(metrics, 'failed')).toBe(2);
    expect(reloads(metrics, 'ok')).toBe(1);
    expect(logged.join('\n')).toContain('attempt 1 broke');
    expect(logged.join('\n')).toContain('attempt 2 broke');
    expect(logged.join('\n')).toMatch(/retrying in \d+ ms/);
  });

  it('keeps its backoff when requests arrive during the wait: they join the retry (no reload storm under churn)', async () => {
    const counter = join(dir, 'count');
    const metrics = createMetrics();
    const script = 'n=$(cat "$0" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$0"; [ $n -ge 2 ]';
    // Backoff 1 s with jitter: the retry comes 500-1000 ms after the failure.
    const r = reloader({ argv: ['sh', '-c', script, counter], metrics, backoff: { initialMs: 1000, maxMs: 1000 } });
    r.request();
    await vi.waitFor(() => expect(reloads(metrics, 'failed')).toBe(1));
    for (let i = 0; i < 10; i++) {
      r.request();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    // Ten requests later, still waiting out the backoff: no run since the failure.
    expect((await readFile(counter, 'utf8')).trim()).toBe('1');
    await r.idle();
    expect(reloads(metrics, 'ok')).toBe(1);
    expect((await readFile(counter, 'utf8')).trim()).toBe('2'); // one failure, one retry for all those requests
  });

  it('treats a timeout or a missing command as a failure, never throwing', async () => {
    const metrics = createMetrics();
    const logged: string[] = [];
    const slow = reloader({ argv: ['sleep', '5'], timeoutMs: 100, metrics, logger: createLogger({ write: (l) => logged.push(l) }), backoff: { initialMs: 60_000, maxMs: 60_000 } });
    expect(() => slow.request()).not.toThrow();
    await vi.waitFor(() => expect(reloads(metrics, 'failed')).toBe(1));
    expect(logged.join('\n')).toContain('timed out after 100 ms');

    const missing = reloader({ argv: ['/nonexistent/cc-reload'], metrics, backoff: { initialMs: 60_000, maxMs: 60_000 } });
    missing.request();
    await vi.waitFor(() => expect(reloads(metrics, 'failed')).toBe(2));

    const badEnv = reloader({
      argv: ['true'],
      metrics,
      envFor: () => {
        throw new Error('no members');
      },
      backoff: { initialMs: 60_000, maxMs: 60_000 },
    });
    expect(() => badEnv.request()).not.toThrow();
    await vi.waitFor(() => expect(reloads(metrics, 'failed')).toBe(3));
  });

  it('close stops retrying promptly and ignores later requests', async () => {
    const log = join(dir, 'runs');
    const metrics = createMetrics();
    const r = reloader({ argv: ['sh', '-c', 'echo run >> "$0"; exit 1', log], metrics, backoff: { initialMs: 60_000, maxMs: 60_000 } });
    r.request();
    await vi.waitFor(() => expect(reloads(metrics, 'failed')).toBe(1));
    const started = Date.now();
    await r.close();
    await r.idle();
    expect(Date.now() - started).toBeLessThan(1000);
    r.request();
    await r.idle();
    expect(await lines(log)).toEqual(['run']);
  });

  it('close waits for a command that is already running', async () => {
    const log = join(dir, 'runs');
    const r = reloader({ argv: ['sh', '-c', 'sleep 0.3; echo done >> "$0"', log] });
    r.request();
    await r.close();
    expect(await lines(log)).toEqual(['done']);
  });

  describe('minIntervalMs', () => {
    afterEach(() => {
      vi.useRealTimers();
    });
    const fake = () => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'] });

    it('defaults to 1000 ms', () => {
      expect(DEFAULT_RELOAD_MIN_INTERVAL_MS).toBe(1000);
    });

    it('20,000 requests over 19 s give at most 20 runs, at least 1 s apart, and the last request is followed by a run', async () => {
      fake();
      let requests = 0;
      const runs: { at: number; seen: number }[] = [];
      const metrics = createMetrics();
      const r = new Reloader({ action: async () => void runs.push({ at: performance.now(), seen: requests }), timeoutMs: 5000, logger: silentLogger, cluster: 'web', metrics });
      reloaders.push(r);
      for (let i = 0; i < 20_000; i++) {
        requests += 1;
        r.request();
        if (i % 20 === 19) await vi.advanceTimersByTimeAsync(19); // 1,000 steps of 19 ms: 19 s
      }
      await vi.advanceTimersByTimeAsync(1_000);
      await r.idle();
      // At 0 s, 1 s, ..., 19 s: the first request runs at once, the rest once a second.
      expect(runs.length).toBe(20);
      for (let i = 1; i < runs.length; i++) expect(runs[i]!.at - runs[i - 1]!.at).toBeGreaterThanOrEqual(1000);
      expect(runs.at(-1)!.seen).toBe(20_000);
      expect(reloads(metrics, 'ok')).toBe(runs.length);
    });

    it('a lone request runs at once; one right after waits out the interval, and requests meanwhile join it', async () => {
      fake();
      const runs: number[] = [];
      const r = reloader({ action: async () => void runs.push(performance.now()), minIntervalMs: 1000 });
      const t0 = performance.now();
      r.request();
      await vi.advanceTimersByTimeAsync(0);
      expect(runs).toEqual([t0]);
      await vi.advanceTimersByTimeAsync(300);
      r.request();
      await vi.advanceTimersByTimeAsync(300);
      r.request();
      r.request();
      await vi.advanceTimersByTimeAsync(399);
      expect(runs).toHaveLength(1);
      await vi.advanceTimersByTimeAsync(1);
      expect(runs).toEqual([t0, t0 + 1000]);
      // Long after: no wait at all.
      await vi.advanceTimersByTimeAsync(5000);
      r.request();
      await vi.advanceTimersByTimeAsync(0);
      expect(runs).toEqual([t0, t0 + 1000, t0 + 6000]);
    });

    it('a command run is rate-limited the same way', async () => {
      const log = join(dir, 'runs');
      const r = reloader({ argv: ['sh', '-c', 'date +%s%N >> "$0"', log], minIntervalMs: 300 });
      for (let i = 0; i < 5; i++) {
        r.request();
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await r.idle();
      const runs = (await lines(log)).map((l) => Number(BigInt(l) / 1_000_000n));
      expect(runs).toHaveLength(2);
      expect(runs[1]! - runs[0]!).toBeGreaterThanOrEqual(290);
    });

    it('close during the interval wait runs the owed reload at once, and only once', async () => {
      let runs = 0;
      const r = reloader({ action: async () => void (runs += 1), minIntervalMs: 60_000 });
      r.request();
      await vi.waitFor(() => expect(runs).toBe(1));
      r.request();
      const started = Date.now();
      await r.close();
      expect(Date.now() - started).toBeLessThan(1000);
      expect(runs).toBe(2);
      r.request();
      await r.idle();
      expect(runs).toBe(2);
    });

    it('a failed run keeps its backoff, and the retry also respects the interval', async () => {
      fake();
      const runs: number[] = [];
      let fail = true;
      const r = reloader({
        action: async () => {
          runs.push(performance.now());
          if (fail) throw new Error('boom');
        },
        minIntervalMs: 1000,
        backoff: { initialMs: 100, maxMs: 100 },
      });
      const t0 = performance.now();
      r.request();
      await vi.advanceTimersByTimeAsync(999);
      expect(runs).toEqual([t0]); // backoff 50-100 ms is over, the interval is not
      fail = false;
      await vi.advanceTimersByTimeAsync(1);
      expect(runs).toEqual([t0, t0 + 1000]);
    });
  });

  describe('action', () => {
    it('runs the action instead of a command; a rejection is a failed run, logged and retried with backoff', async () => {
      const metrics = createMetrics();
      const logged: string[] = [];
      let calls = 0;
      const r = reloader({
        action: async () => {
          calls += 1;
          if (calls < 3) throw new Error(`no server to signal (attempt ${calls})`);
        },
        metrics,
        logger: createLogger({ write: (l) => logged.push(l) }),
      });
      r.request();
      await r.idle();
      expect(calls).toBe(3);
      expect(reloads(metrics, 'failed')).toBe(2);
      expect(reloads(metrics, 'ok')).toBe(1);
      const text = logged.join('\n');
      expect(text).toContain('reload for cluster web failed: no server to signal (attempt 1)');
      expect(text).toContain('reload for cluster web failed: no server to signal (attempt 2)');
      expect(text).toMatch(/reload for cluster web: retrying in \d+ ms/);
      expect(text).toContain('reload for cluster web succeeded');
    });

    it('an action that throws synchronously or never settles is a failed run too', async () => {
      const metrics = createMetrics();
      const logged: string[] = [];
      const logger = createLogger({ write: (l) => logged.push(l) });
      const sync = reloader({
        action: () => {
          throw new Error('sync throw');
        },
        metrics,
        logger,
        backoff: { initialMs: 60_000, maxMs: 60_000 },
      });
      sync.request();
      await vi.waitFor(() => expect(reloads(metrics, 'failed')).toBe(1));
      const hung = reloader({ action: () => new Promise<void>(() => {}), timeoutMs: 100, metrics, logger, backoff: { initialMs: 60_000, maxMs: 60_000 } });
      hung.request();
      await vi.waitFor(() => expect(reloads(metrics, 'failed')).toBe(2));
      expect(logged.join('\n')).toContain('reload for cluster web failed: sync throw');
      expect(logged.join('\n')).toContain('reload for cluster web failed: timed out after 100 ms');
    });
  });
});
