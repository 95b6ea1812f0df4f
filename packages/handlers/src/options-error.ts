import type { ErrorCode } from '@cluster-control/core';

/**
 * A configuration mistake in a handler's options; `path` names the field, e.g. `format`.
 * Mirrors core's `HandlerOptionsError` (same name, code and message) rather than importing it:
 * this package imports only types from core, an optional peer, so it loads without core. Core
 * recognises either class by `code`.
 */
export class HandlerOptionsError extends Error {
  // Typed against core's list, so a typo here fails to compile.
  readonly code: typeof ErrorCode.CC_HANDLER_OPTIONS = 'CC_HANDLER_OPTIONS';

  constructor(
    readonly path: string,
    message: string,
  ) {
    super(path ? `${path}: ${message}` : message);
    this.name = 'HandlerOptionsError';
  }
}
