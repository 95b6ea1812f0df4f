// `@cluster-control/core/status`: the fleet view: each watcher's status record, publishing and reading them, the drain's wait for the fleet.
export type { MembersNow, RunOutcome, WatcherState, WatcherStatus } from './status-record.js';
export { DEFAULT_STATUS_PREFIX, DEFAULT_STATUS_TTL, applying, hashMismatches, inStep, parseWatcherStatus, runOutcomeCell, statusClusterPrefix, statusKey, watcherState } from './status-record.js';
export { StatusPublisher, type StatusPublisherOptions, type WatcherIdentity } from './status-publisher.js';
export type { FleetWaitOptions, FleetWaitResult, FleetWatcher } from './fleet-wait.js';
export { describeFleetWait, waitForFleet } from './fleet-wait.js';
export { readClusterStatuses, readWatcherStatuses, type ClusterStatuses } from './read-statuses.js';
export { MemberHistory } from './member-history.js';
