/** Counters and gauges, keyed by name and labels; the Prometheus endpoint renders these. */
export interface Metrics {
  inc(name: string, labels?: Record<string, string>, by?: number): void;
  set(name: string, value: number, labels?: Record<string, string>): void;
  get(name: string, labels?: Record<string, string>): number;
}

function seriesKey(name: string, labels: Record<string, string> | undefined): string {
  if (!labels) return name;
  const parts = Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`);
  return `${name}{${parts.join(',')}}`;
}

export function createMetrics(): Metrics & { snapshot(): Map<string, number> } {
  const values = new Map<string, number>();
  return {
    inc(name, labels, by = 1) {
      const k = seriesKey(name, labels);
      values.set(k, (values.get(k) ?? 0) + by);
    },
    set(name, value, labels) {
      values.set(seriesKey(name, labels), value);
    },
    get(name, labels) {
      return values.get(seriesKey(name, labels)) ?? 0;
    },
    snapshot() {
      return new Map(values);
    },
  };
}
