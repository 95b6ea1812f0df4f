/**
 * A configuration mistake in a handler's options; `path` names the field, e.g. `format`.
 * Same shape as core's `HandlerOptionsError` (handlers import only types from core, so the
 * class can't be shared); callers recognise it by `name === 'HandlerOptionsError'`.
 */
export class HandlerOptionsError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(path ? `${path}: ${message}` : message);
    this.name = 'HandlerOptionsError';
  }
}
