export type { InstallOptions, InstallResult } from './atomic-write.js';
export { installFile, cleanupStaleTempFiles, UnsafeTargetError } from './atomic-write.js';
export type { RunOptions, RunResult } from './run-command.js';
export { runCommand, describeFailure, truncateOutput, OUTPUT_LIMIT, KILL_GRACE_MS, EXIT_NOT_FOUND, EXIT_NOT_EXECUTABLE } from './run-command.js';
export type { ReloaderOptions } from './reloader.js';
export { Reloader } from './reloader.js';
export type { DebounceTimers } from './debounce.js';
export { Debouncer } from './debounce.js';
