// `@cluster-control/core/observe`: Prometheus metrics and the /metrics, /healthz, /readyz endpoints.
export type { KnownMetricName, MetricSpec, MetricType, PrometheusMetrics, PrometheusMetricsOptions } from './prometheus-metrics.js';
export { KNOWN_METRICS, createPrometheusMetrics } from './prometheus-metrics.js';
export type { ListenAddress, ObservabilityOptions, ObservabilityServer } from './http-endpoints.js';
export { serveObservability } from './http-endpoints.js';
