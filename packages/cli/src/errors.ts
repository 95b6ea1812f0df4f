import { ErrorCode } from '@cluster-control/core';

/** A failure at run time that has already been described: print its message, exit 1. */
export class RuntimeError extends Error {
  override name = 'RuntimeError';
  readonly code = ErrorCode.CC_RUNTIME;
}

/** Wrong command-line usage: print the message, exit 2. */
export class UsageError extends Error {
  override name = 'UsageError';
  readonly code = ErrorCode.CC_USAGE;
}
