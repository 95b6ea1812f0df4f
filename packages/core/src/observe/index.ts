export type { KnownMetricName, MetricSpec, MetricType, PrometheusMetrics, PrometheusMetricsOptions } from './prometheus-metrics.js';
export { KNOWN_METRICS, createPrometheusMetrics } from './prometheus-metrics.js';
export type { ListenAddress, ObservabilityOptions, ObservabilityServer } from './http-endpoints.js';
export { formatListenAddress, parseListenAddress, serveObservability } from './http-endpoints.js';
