// `@cluster-control/core/watch`: read → watch → on any break back off, re-read, watch again.
export { ResilientWatch, type ResilientWatchOptions, type SnapshotPages, type SnapshotReason, type WatchSink } from './resilient-watch.js';
