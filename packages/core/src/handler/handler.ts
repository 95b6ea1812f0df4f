import type { Member } from '../model/member.js';
import { ErrorCode } from '../util/error-codes.js';

/** What a handler knows about the cluster it renders, besides its members. */
export interface RenderContext {
  /** The cluster's `name` from the configuration. */
  readonly cluster: string;
  /** The cluster's key prefix, e.g. `/clusters/web`. */
  readonly path: string;
  /**
   * Tells the operator about something the handler left out (a meta value it refused, a member
   * its format cannot hold). Logged once per message; rendering goes on.
   */
  readonly report?: (problem: string) => void;
}

/** Where a handler's options come from. */
export interface OptionsContext {
  /** Absolute directory of the configuration file: what a relative path in the options is relative to. */
  readonly baseDir: string;
}

/**
 * A handler turns the sorted member list into the text of one file.
 * It must be pure: no disk, network or clock; same input, same bytes.
 */
export interface Handler<Options = Record<string, unknown>> {
  readonly name: string;
  /**
   * Validates the handler's options (`handlerConfig` minus `file`); throws HandlerOptionsError on
   * bad input. `context` is given when the options come from a configuration file.
   */
  parseOptions(raw: Record<string, unknown>, context?: OptionsContext): Options;
  render(members: readonly Member[], options: Options, context: RenderContext): string;
  /**
   * Optional: for a file that is a list of its members, that list's form, so a watcher can render
   * the next file from the last one by re-rendering only the members that changed. Undefined for
   * options whose file is not such a list. See ListLayout for what it promises.
   */
  listLayout?(options: Options): ListLayout | undefined;
}

/**
 * The form of a file that is a list of its members, one item each, in member order: for members
 * m1..mn (n > 0) `render` returns exactly `head + item(m1) + separator + ... + item(mn) + tail`, and
 * `empty` for none. `item` is pure (the same member, the same text) and never reports: for a
 * member `render` would leave out or report something about, it returns undefined, and the whole
 * file is then rendered by `render`.
 */
export interface ListLayout {
  readonly head: string;
  readonly separator: string;
  readonly tail: string;
  /** The whole file for no members. */
  readonly empty: string;
  item(member: Member): string | undefined;
}

/** A configuration mistake in a handler's options; `path` names the field, e.g. `scheme`. */
export class HandlerOptionsError extends Error {
  readonly code = ErrorCode.CC_HANDLER_OPTIONS;

  constructor(
    readonly path: string,
    message: string,
  ) {
    super(path ? `${path}: ${message}` : message);
    this.name = 'HandlerOptionsError';
  }
}

// Handlers may be any objects of the right shape, so accept loosely-typed ones when loading.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyHandler = Handler<any>;

export function isHandler(value: unknown): value is AnyHandler {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.name === 'string' && typeof v.render === 'function' && typeof v.parseOptions === 'function';
}
