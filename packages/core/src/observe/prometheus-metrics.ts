import { createRequire } from 'node:module';
import type { Counter, Gauge, Registry } from 'prom-client';
import type * as PromClient from 'prom-client';
import type { Metrics } from '../util/metrics.js';

export type MetricType = 'counter' | 'gauge';

export interface MetricSpec {
  type: MetricType;
  help: string;
  /** The only label names the series may carry; others passed by a caller are dropped. */
  labels: readonly string[];
}

/**
 * Every metric cluster-control itself emits. Names not listed here still work (see
 * `createPrometheusMetrics`), but listing them gives them help text, the right type and a fixed
 * label set, so a typo'd label at one call site cannot split a series.
 */
export const KNOWN_METRICS = {
  cluster_control_registered: { type: 'gauge', help: 'Whether this node has its key registered in etcd (1) or not (0).', labels: [] },
  cluster_control_members: { type: 'gauge', help: 'Members currently in the cluster, as last seen.', labels: ['cluster'] },
  cluster_control_revision: { type: 'gauge', help: "The etcd revision the cluster's installed file reflects.", labels: ['cluster'] },
  cluster_control_etcd_revision: { type: 'gauge', help: 'The newest etcd revision the watch has heard of for the cluster.', labels: ['cluster'] },
  cluster_control_revision_lag: {
    type: 'gauge',
    help: "How many etcd revisions the cluster's file is behind (etcd_revision - revision).",
    labels: ['cluster'],
  },
  cluster_control_ready: { type: 'gauge', help: 'Whether the process reports ready on /readyz (1) or not (0).', labels: [] },
  cluster_control_child_up: { type: 'gauge', help: 'Whether the supervised child process is running (1) or not (0).', labels: [] },
  cluster_control_events_total: { type: 'counter', help: 'Watch events received for the cluster.', labels: ['cluster'] },
  cluster_control_renders_total: { type: 'counter', help: 'Config files rendered for the cluster.', labels: ['cluster'] },
  cluster_control_installs_total: {
    type: 'counter',
    help: 'Config file install attempts by result (ok, unchanged, check_failed, refused, failed).',
    labels: ['cluster', 'result'],
  },
  cluster_control_reloads_total: { type: 'counter', help: 'Reload commands run by result (ok, failed).', labels: ['cluster', 'result'] },
  cluster_control_watch_resyncs_total: { type: 'counter', help: 'Full re-reads of the cluster after a watch problem, by reason.', labels: ['cluster', 'reason'] },
  cluster_control_watch_stalls_total: { type: 'counter', help: 'Times the watch went quiet for too long and was restarted.', labels: ['cluster'] },
  cluster_control_rejected_members_total: { type: 'counter', help: 'Member keys rejected as invalid.', labels: ['cluster'] },
  cluster_control_quarantined_members: {
    type: 'gauge',
    help: 'Members with a valid name left out of the file (over a limit, address not allowed, host name not resolving, or breaking the render or check).',
    labels: ['cluster'],
  },
  cluster_control_quarantines_total: { type: 'counter', help: 'Members quarantined, by kind (limits, address, unresolved, render, check).', labels: ['cluster', 'kind'] },
  cluster_control_last_install_timestamp_seconds: {
    type: 'gauge',
    help: "When the cluster's file was last installed (or found current at start), Unix seconds: time() minus this is the time since.",
    labels: ['cluster'],
  },
  cluster_control_status_writes_total: { type: 'counter', help: 'Status records written for the fleet view (cluster-control status).', labels: ['cluster'] },
  cluster_control_file_current: {
    type: 'gauge',
    help: "Whether the cluster's file reflects the current members (1), or installing it keeps failing (0).",
    labels: ['cluster'],
  },
  cluster_control_reregistrations_total: { type: 'counter', help: 'Times the own key had to be registered again (lease lost).', labels: [] },
  cluster_control_child_signals_total: { type: 'counter', help: 'Signals sent to the supervised child, by signal.', labels: ['signal'] },
} as const satisfies Record<string, MetricSpec>;

export type KnownMetricName = keyof typeof KNOWN_METRICS;

export interface PrometheusMetrics extends Metrics {
  /** Private to this instance (not prom-client's global registry), so several can coexist. */
  readonly registry: Registry;
  /** The Content-Type header for `render()`'s output. */
  readonly contentType: string;
  /** All metrics in the Prometheus text exposition format. */
  render(): Promise<string>;
}

export interface PrometheusMetricsOptions {
  /** Also export prom-client's process metrics (RSS, CPU, event loop lag, …). Default true. */
  defaultMetrics?: boolean;
}

type Labels = Record<string, string>;

interface Series {
  spec: MetricSpec;
  /** Undefined when prom-client refused the metric (bad name, clash): then only `get` sees it. */
  collector: Counter | Gauge | undefined;
}

const REVISION = 'cluster_control_revision';
const ETCD_REVISION = 'cluster_control_etcd_revision';
const REVISION_LAG = 'cluster_control_revision_lag';

/**
 * A `Metrics` backed by prom-client. Metrics are created on first use. The values are mirrored in
 * a Map so that `get` stays synchronous (prom-client's own getters are async).
 *
 * Nothing here throws: metrics are a side channel, and a bad name or label set at some call site
 * must never take down the watcher or the supervisor.
 */
export function createPrometheusMetrics(options: PrometheusMetricsOptions = {}): PrometheusMetrics {
  // Required here, not imported at the top: prom-client costs ~50 ms to load, and the one-shot
  // commands, which import this package too, never export metrics.
  const { Counter, Gauge, Registry, collectDefaultMetrics } = createRequire(import.meta.url)('prom-client') as typeof PromClient;
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });

  const series = new Map<string, Series>();
  const values = new Map<string, number>();

  function seriesFor(name: string, type: MetricType, labels: Labels | undefined): Series {
    let s = series.get(name);
    if (s) return s;
    const known = (KNOWN_METRICS as Record<string, MetricSpec>)[name];
    // An unknown metric takes its type from the first call and its label names from the first labels.
    const spec: MetricSpec = known ?? { type, help: 'cluster-control metric', labels: Object.keys(labels ?? {}).sort() };
    let collector: Counter | Gauge | undefined;
    try {
      const config = { name, help: spec.help, labelNames: [...spec.labels], registers: [registry] };
      collector = spec.type === 'counter' ? new Counter(config) : new Gauge(config);
    } catch {
      collector = undefined;
    }
    s = { spec, collector };
    series.set(name, s);
    return s;
  }

  /** Keep only the metric's declared label names, so prom-client never sees an unexpected one. */
  function pick(spec: MetricSpec, labels: Labels | undefined): Labels {
    const out: Labels = {};
    if (!labels) return out;
    for (const k of spec.labels) {
      const v = labels[k];
      if (v !== undefined) out[k] = String(v);
    }
    return out;
  }

  function key(name: string, labels: Labels): string {
    const parts = Object.keys(labels)
      .sort()
      .map((k) => `${k}=${JSON.stringify(labels[k])}`);
    return parts.length ? `${name}{${parts.join(',')}}` : name;
  }

  function write(name: string, op: 'inc' | 'set', amount: number, labels: Labels | undefined): void {
    try {
      if (typeof amount !== 'number' || Number.isNaN(amount)) return;
      const s = seriesFor(name, op === 'inc' ? 'counter' : 'gauge', labels);
      const picked = pick(s.spec, labels);
      const k = key(name, picked);
      const current = values.get(k) ?? 0;
      const value = op === 'inc' ? current + amount : amount;
      if (s.spec.type === 'counter') {
        // Counters only go up (prom-client throws otherwise): ignore a negative `inc`, and treat
        // a `set` below the current value as a counter reset — drop the series and start again.
        if (op === 'inc' && amount < 0) return;
        if (value < 0) return;
        if (s.collector instanceof Counter) {
          if (value < current) {
            s.collector.remove(picked);
            if (value > 0) s.collector.inc(picked, value);
          } else if (value > current) {
            s.collector.inc(picked, value - current);
          }
        }
      } else if (s.collector instanceof Gauge) {
        s.collector.set(picked, value);
      }
      values.set(k, value);
      if (name === REVISION || name === ETCD_REVISION) updateLag(picked);
    } catch {
      // See the function comment: never let metrics crash the caller.
    }
  }

  /** revision_lag = etcd_revision - revision, once both are known for the cluster. */
  function updateLag(labels: Labels): void {
    const applied = values.get(key(REVISION, labels));
    const newest = values.get(key(ETCD_REVISION, labels));
    if (applied === undefined || newest === undefined) return;
    // Clamp at 0: the two are set from different code paths, and a file briefly looking "ahead"
    // of the watch just means the watch has not been told of that revision yet.
    const lag = Math.max(0, newest - applied);
    write(REVISION_LAG, 'set', lag, labels);
  }

  return {
    registry,
    get contentType() {
      return registry.contentType;
    },
    render: () => registry.metrics(),
    inc(name, labels, by = 1) {
      write(name, 'inc', by, labels);
    },
    set(name, value, labels) {
      write(name, 'set', value, labels);
    },
    get(name, labels) {
      const s = series.get(name);
      return values.get(key(name, s ? pick(s.spec, labels) : (labels ?? {}))) ?? 0;
    },
  };
}
