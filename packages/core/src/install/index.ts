// `@cluster-control/core/install`: atomic, checked installs of a file; running check and reload commands; the paced Reloader.
export type { InstallOptions, InstallResult } from './atomic-write.js';
export { checkTarget, installFile, UnsafeTargetError } from './atomic-write.js';
export type { RunOptions, RunResult } from './run-command.js';
export { runCommand } from './run-command.js';
export type { ReloaderOptions, ReloadOutcome } from './reloader.js';
export { Reloader } from './reloader.js';
