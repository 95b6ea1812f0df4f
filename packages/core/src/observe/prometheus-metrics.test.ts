import { describe, expect, it } from 'vitest';
import { register as globalRegistry } from 'prom-client';
import { KNOWN_METRICS, createPrometheusMetrics } from './prometheus-metrics.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Just enough of the Prometheus text format to read our own output back. */
function parseExposition(text: string): { help: Map<string, string>; type: Map<string, string>; samples: Sample[] } {
  const help = new Map<string, string>();
  const type = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta) {
      (meta[1] === 'HELP' ? help : type).set(meta[2]!, meta[3]!);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`unparsable line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[k!] = v!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return { help, type, samples };
}

async function scrape(metrics: ReturnType<typeof createPrometheusMetrics>) {
  return parseExposition(await metrics.render());
}

function find(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === JSON.stringify(Object.entries(labels).sort()))?.value;
}

describe('createPrometheusMetrics', () => {
  it('counts, sets and reads back synchronously', () => {
    const m = createPrometheusMetrics({ defaultMetrics: false });
    m.inc('cluster_control_events_total', { cluster: 'web' });
    m.inc('cluster_control_events_total', { cluster: 'web' }, 4);
    m.inc('cluster_control_reregistrations_total');
    m.set('cluster_control_members', 3, { cluster: 'web' });
    m.set('cluster_control_members', 2, { cluster: 'web' });
    m.set('cluster_control_registered', 1);
    expect(m.get('cluster_control_events_total', { cluster: 'web' })).toBe(5);
    expect(m.get('cluster_control_events_total', { cluster: 'db' })).toBe(0);
    expect(m.get('cluster_control_reregistrations_total')).toBe(1);
    expect(m.get('cluster_control_members', { cluster: 'web' })).toBe(2);
    expect(m.get('cluster_control_registered')).toBe(1);
    expect(m.get('never_touched')).toBe(0);
  });

  it('renders the text format with help, type and labels', async () => {
    const m = createPrometheusMetrics({ defaultMetrics: false });
    m.inc('cluster_control_installs_total', { cluster: 'web', result: 'ok' });
    m.inc('cluster_control_installs_total', { cluster: 'web', result: 'check_failed' }, 2);
    m.set('cluster_control_members', 3, { cluster: 'web' });
    const { help, type, samples } = await scrape(m);
    expect(type.get('cluster_control_installs_total')).toBe('counter');
    expect(type.get('cluster_control_members')).toBe('gauge');
    expect(help.get('cluster_control_members')).toBe(KNOWN_METRICS.cluster_control_members.help);
    expect(find(samples, 'cluster_control_installs_total', { cluster: 'web', result: 'ok' })).toBe(1);
    expect(find(samples, 'cluster_control_installs_total', { cluster: 'web', result: 'check_failed' })).toBe(2);
    expect(find(samples, 'cluster_control_members', { cluster: 'web' })).toBe(3);
    // Lazily created: untouched metrics are absent.
    expect(type.has('cluster_control_reloads_total')).toBe(false);
    expect(m.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
  });

  it('uses a registry of its own, not the global one', async () => {
    const a = createPrometheusMetrics({ defaultMetrics: false });
    const b = createPrometheusMetrics({ defaultMetrics: false });
    a.inc('cluster_control_events_total', { cluster: 'web' });
    expect(a.registry).not.toBe(globalRegistry);
    expect(find((await scrape(a)).samples, 'cluster_control_events_total', { cluster: 'web' })).toBe(1);
    expect((await scrape(b)).samples).toEqual([]);
    expect(globalRegistry.getSingleMetric('cluster_control_events_total')).toBeUndefined();
  });

  it('includes the default process metrics unless turned off', async () => {
    const { type } = await scrape(createPrometheusMetrics());
    expect(type.get('process_resident_memory_bytes')).toBe('gauge');
    expect(type.get('nodejs_eventloop_lag_seconds')).toBe('gauge');
    expect(type.get('process_cpu_seconds_total')).toBe('counter');
  });

  it('drops labels a known metric does not declare, and tolerates missing ones', async () => {
    const m = createPrometheusMetrics({ defaultMetrics: false });
    m.inc('cluster_control_events_total', { cluster: 'web', typo: 'x' });
    m.inc('cluster_control_events_total', { cluster: 'web' });
    m.inc('cluster_control_reloads_total', { cluster: 'web' });
    expect(m.get('cluster_control_events_total', { cluster: 'web' })).toBe(2);
    const { samples } = await scrape(m);
    expect(find(samples, 'cluster_control_events_total', { cluster: 'web' })).toBe(2);
    expect(find(samples, 'cluster_control_reloads_total', { cluster: 'web' })).toBe(1);
  });

  it('maintains revision_lag whenever either revision is set', async () => {
    const m = createPrometheusMetrics({ defaultMetrics: false });
    m.set('cluster_control_etcd_revision', 100, { cluster: 'web' });
    // Not known until both are.
    expect((await scrape(m)).type.has('cluster_control_revision_lag')).toBe(false);
    m.set('cluster_control_revision', 90, { cluster: 'web' });
    expect(m.get('cluster_control_revision_lag', { cluster: 'web' })).toBe(10);
    m.set('cluster_control_etcd_revision', 105, { cluster: 'web' });
    expect(m.get('cluster_control_revision_lag', { cluster: 'web' })).toBe(15);
    m.set('cluster_control_revision', 105, { cluster: 'web' });
    expect(m.get('cluster_control_revision_lag', { cluster: 'web' })).toBe(0);
    // A file ahead of what the watch has heard of is not negative lag.
    m.set('cluster_control_revision', 107, { cluster: 'web' });
    expect(m.get('cluster_control_revision_lag', { cluster: 'web' })).toBe(0);
    // Per cluster.
    m.set('cluster_control_revision', 1, { cluster: 'db' });
    m.set('cluster_control_etcd_revision', 4, { cluster: 'db' });
    const { samples } = await scrape(m);
    expect(find(samples, 'cluster_control_revision_lag', { cluster: 'web' })).toBe(0);
    expect(find(samples, 'cluster_control_revision_lag', { cluster: 'db' })).toBe(3);
  });

  it('creates unknown names on first use: counter for inc, gauge for set, labels of the first use', async () => {
    const m = createPrometheusMetrics({ defaultMetrics: false });
    m.inc('my_things_total', { kind: 'a' });
    m.set('my_level', 7);
    const { type, help, samples } = await scrape(m);
    expect(type.get('my_things_total')).toBe('counter');
    expect(type.get('my_level')).toBe('gauge');
    expect(help.get('my_things_total')).toBe('cluster-control metric');
    expect(find(samples, 'my_things_total', { kind: 'a' })).toBe(1);
    expect(find(samples, 'my_level')).toBe(7);
  });

  it('never throws on label mismatches, bad names, bad values or counter decreases', async () => {
    const m = createPrometheusMetrics();
    m.inc('my_things_total', { kind: 'a' });
    expect(() => {
      m.inc('my_things_total', { kind: 'b', other: 'x' });
      m.inc('my_things_total', { other: 'x' });
      m.set('my_things_total', 99, { kind: 'a', extra: 'y' });
      m.inc('my_things_total', { kind: 'a' }, -5);
      m.inc('not a valid-name');
      m.set('cluster_control_members', Number.NaN, { cluster: 'web' });
      m.set('process_cpu_seconds_total', 3); // clashes with a default metric
      m.inc('cluster_control_registered', { surprise: 'label' });
    }).not.toThrow();
    expect(m.get('my_things_total', { kind: 'b' })).toBe(1);
    expect(m.get('my_things_total', { kind: 'a' })).toBe(99);
    // A refused name still counts in the mirror, it just is not exported.
    expect(m.get('not a valid-name')).toBe(1);
    expect(m.get('cluster_control_registered')).toBe(1);
    const { samples } = await scrape(m);
    expect(find(samples, 'my_things_total', { kind: 'a' })).toBe(99);
    expect(find(samples, 'my_things_total', {})).toBe(1);
    expect(samples.some((s) => s.name.startsWith('not'))).toBe(false);
  });

  it('treats set below the current value of a counter as a reset', async () => {
    const m = createPrometheusMetrics({ defaultMetrics: false });
    m.inc('cluster_control_events_total', { cluster: 'web' }, 10);
    m.set('cluster_control_events_total', 3, { cluster: 'web' });
    expect(m.get('cluster_control_events_total', { cluster: 'web' })).toBe(3);
    expect(find((await scrape(m)).samples, 'cluster_control_events_total', { cluster: 'web' })).toBe(3);
  });

  it('declares the documented label names for every known metric', () => {
    for (const [name, spec] of Object.entries(KNOWN_METRICS)) {
      expect(name).toMatch(/^cluster_control_[a-z_]+$/);
      expect(name.endsWith('_total')).toBe(spec.type === 'counter');
    }
    expect(KNOWN_METRICS.cluster_control_installs_total.labels).toEqual(['cluster', 'result']);
  });
});
