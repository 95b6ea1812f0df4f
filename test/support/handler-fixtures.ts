import { expect } from 'vitest';

/*
 * What the handlers' tests feed a handler. Shaped like core's Member and RenderContext rather than
 * typed with them: every package type-checks test/support, and core does not resolve from here.
 */

/** A member as core hands it to a handler (handlers read neither `key` nor `value`). */
export function member(name: string, host: string, port: number | undefined, meta: Record<string, unknown> = {}) {
  return { name, host, port, key: `/clusters/web/${name}`, meta, value: JSON.stringify(meta) };
}

/** A render context for `cluster` that keeps what the handler reports. */
export function contextFor(cluster = 'web') {
  const reports: string[] = [];
  return { cluster, path: `/clusters/${cluster}`, report: (problem: string) => void reports.push(problem), reports };
}

/** The error `handler.parseOptions(raw)` throws, checked to be a `type` (the handlers' HandlerOptionsError). */
export function parseOptionsError<E>(handler: { parseOptions(raw: Record<string, unknown>): unknown }, raw: unknown, type: abstract new (...args: never[]) => E): E {
  try {
    handler.parseOptions(raw as Record<string, unknown>);
  } catch (e) {
    expect(e).toBeInstanceOf(type);
    return e as E;
  }
  throw new Error(`expected an error for ${JSON.stringify(raw)}`);
}
