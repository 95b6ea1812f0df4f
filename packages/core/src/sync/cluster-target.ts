import { lstat } from 'node:fs/promises';
import type { AnyHandler, ListLayout } from '../handler/handler.js';
import { installFile } from '../install/atomic-write.js';
import { firstLine } from '../install/run-command.js';
import type { AddressPolicy } from '../model/address-policy.js';
import type { LogOnce } from '../model/log-once.js';
import type { Member } from '../model/member.js';
import type { MemberLimits } from '../model/member-limits.js';
import { describeError } from '../util/describe-error.js';
import { ListRenderer } from './list-render.js';
import type { Logger } from '../util/log.js';
import type { Metrics } from '../util/metrics.js';

/** Everything needed to turn one cluster's members into its file. */
export interface ClusterTarget {
  name: string;
  path: string;
  file: string;
  handler: AnyHandler;
  /** Already validated by `handler.parseOptions`. */
  handlerOptions: unknown;
  check?: string[] | undefined;
  checkTimeoutMs: number;
  minMembers: number;
  mode?: number | undefined;
  /** Which member addresses may reach the file; default DEFAULT_ADDRESS_POLICY. */
  policy?: AddressPolicy | undefined;
  /** Caps on one member's data; default DEFAULT_MEMBER_LIMITS. */
  limits?: MemberLimits | undefined;
}

export type InstallOutcome = 'installed' | 'unchanged' | 'refused' | 'check-failed' | 'failed';

/**
 * A render's text, or why the handler could not produce one (one line). A render from a
 * ListLayout comes as bytes (`renderedBytes`), its text decoded only if asked for.
 */
export type Rendered = { ok: true; text: string } | { ok: false; reason: string };

/** The UTF-8 bytes of results whose text was rendered as bytes (a Rendered, DetailedOutcome or SafeInstallResult). */
const bytesOf = new WeakMap<object, Buffer>();

/** The file's bytes when `result`'s text was rendered as bytes (never written to: do not change them). */
export function renderedBytes(result: object): Buffer | undefined {
  return bytesOf.get(result);
}

/**
 * `result` with `from`'s text: for a render made as bytes, a getter decoding them once on first
 * use (nothing on the way to the file needs the text), and the same bytes.
 */
export function withTextOf<T extends object>(result: T, from: { text?: string | undefined }): T & { text?: string | undefined } {
  const bytes = bytesOf.get(from);
  return bytes ? withBytes(result, bytes) : Object.assign(result, { text: from.text });
}

function withBytes<T extends object>(result: T, bytes: Buffer): T & { text: string } {
  let text: string | undefined;
  Object.defineProperty(result, 'text', { get: () => (text ??= bytes.toString('utf8')), enumerable: true, configurable: true });
  bytesOf.set(result, bytes);
  return result as T & { text: string };
}

/** The handler's render, never throwing; what it reports is logged once per message. */
export function renderMembers(target: ClusterTarget, members: readonly Member[], logger: Logger, once?: LogOnce): Rendered {
  try {
    const report = (problem: string) => {
      if (!once || once.first(`report:${problem}`)) logger.warn(`${target.name}: ${problem}`);
    };
    return { ok: true, text: target.handler.render(members, target.handlerOptions, { cluster: target.name, path: target.path, report }) };
  } catch (err) {
    return { ok: false, reason: firstLine(`handler ${target.handler.name} failed to render: ${describeError(err)}`, '(no output)') };
  }
}

/** Per target whose handler has a ListLayout for its options: the renderer keeping its last file (null: none). */
const listRenderers = new WeakMap<ClusterTarget, ListRenderer | null>();

/**
 * renderMembers for the file a watcher installs: from the handler's ListLayout when it has one,
 * re-rendering only the members that changed since the last call for this target (the same text
 * as `render`, which the layout promises); else, or when the layout declines a member, `render`.
 */
export function renderMembersIncrementally(target: ClusterTarget, members: readonly Member[], logger: Logger, once?: LogOnce): Rendered {
  let renderer = listRenderers.get(target);
  if (renderer === undefined) {
    let layout: ListLayout | undefined;
    try {
      layout = target.handler.listLayout?.(target.handlerOptions);
    } catch {
      layout = undefined; // `render` reports what is wrong
    }
    renderer = layout ? new ListRenderer(layout) : null;
    listRenderers.set(target, renderer);
  }
  if (renderer) {
    try {
      const bytes = renderer.render(members);
      if (bytes !== undefined) return withBytes({ ok: true as const }, bytes);
    } catch {
      // A layout that throws: `render` decides (and says why it fails, if it does).
      listRenderers.set(target, null);
    }
  }
  return renderMembers(target, members, logger, once);
}

/** render → check on a staged copy, without installing: may these members make the file? */
export async function trialRender(target: ClusterTarget, members: readonly Member[], logger: Logger): Promise<{ ok: true } | { ok: false; reason: string }> {
  const rendered = renderMembers(target, members, logger);
  if (!rendered.ok) return rendered;
  if (!target.check) return { ok: true };
  const result = await installFile(target.file, rendered.text, { logger, checkOnly: true, check: { argv: target.check, timeoutMs: target.checkTimeoutMs } });
  if ('checkFailed' in result) return { ok: false, reason: checkReason(result.output) };
  return { ok: true };
}

/** render (pure) → install (atomic, checked). Never throws: the outcome says what happened. */
export async function renderAndInstall(target: ClusterTarget, members: readonly Member[], logger: Logger, metrics?: Metrics, once?: LogOnce): Promise<InstallOutcome> {
  return (await renderAndInstallDetailed(target, members, logger, metrics, once)).outcome;
}

/** What renderAndInstallDetailed says: the outcome, and for a failure where (stage) and why (one line). */
export interface DetailedOutcome {
  outcome: InstallOutcome;
  stage?: 'min-members' | 'render' | 'check' | 'write';
  reason?: string;
  /** The file's text, when installed or unchanged (for its hash in the fleet view), or written empty. */
  text?: string;
  /**
   * Refused for too few members while the file did not exist: the handler's form for no members
   * was written instead, so a server including the file can start (it serves nothing until
   * enough members are there).
   */
  wroteEmpty?: true;
}

/** renderAndInstall, with the reason of a failure (one line) for whoever wants to act on it. */
export async function renderAndInstallDetailed(target: ClusterTarget, members: readonly Member[], logger: Logger, metrics?: Metrics, once?: LogOnce): Promise<DetailedOutcome> {
  const labels = { cluster: target.name };
  if (members.length < target.minMembers) {
    const reason = `${members.length} member(s), fewer than minMembers ${target.minMembers}`;
    metrics?.inc('cluster_control_installs_total', { ...labels, result: 'refused' });
    if (await exists(target.file)) {
      logger.warn(`${target.name}: refusing to install ${reason}; ${target.file} left as it is`);
      return { outcome: 'refused', stage: 'min-members', reason };
    }
    return installEmpty(target, reason, logger);
  }
  const rendered = renderMembersIncrementally(target, members, logger, once);
  if (!rendered.ok) {
    logger.error(`${target.name}: ${rendered.reason}`);
    metrics?.inc('cluster_control_installs_total', { ...labels, result: 'failed' });
    return { outcome: 'failed', stage: 'render', reason: rendered.reason };
  }
  metrics?.inc('cluster_control_renders_total', labels);
  try {
    const result = await installFile(target.file, bytesOf.get(rendered) ?? rendered.text, installOptions(target, logger));
    if ('checkFailed' in result) {
      logger.error(`${target.name}: check failed; ${target.file} not replaced: ${result.output.trim() || '(no output)'}`);
      metrics?.inc('cluster_control_installs_total', { ...labels, result: 'check_failed' });
      return { outcome: 'check-failed', stage: 'check', reason: checkReason(result.output) };
    }
    if (!result.changed) return withTextOf({ outcome: 'unchanged' as const }, rendered);
    logger.info(`${target.name}: wrote ${target.file} (${members.length} member(s))`);
    metrics?.inc('cluster_control_installs_total', { ...labels, result: 'ok' });
    return withTextOf({ outcome: 'installed' as const }, rendered);
  } catch (err) {
    const reason = `could not write ${target.file}: ${describeError(err)}`;
    logger.error(`${target.name}: ${reason}`);
    metrics?.inc('cluster_control_installs_total', { ...labels, result: 'failed' });
    return { outcome: 'failed', stage: 'write', reason: firstLine(reason, '(no output)') };
  }
}

/** The target's mode and check, for installFile. */
function installOptions(target: ClusterTarget, logger: Logger): Parameters<typeof installFile>[2] {
  return {
    logger,
    ...(target.mode !== undefined ? { mode: target.mode } : {}),
    ...(target.check ? { check: { argv: target.check, timeoutMs: target.checkTimeoutMs } } : {}),
  };
}

/** Whether `file` exists (anything there, even a broken link: its install decides what to do with it). */
async function exists(file: string): Promise<boolean> {
  try {
    await lstat(file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    // Unreadable directory and the like: the install would fail too; keep the refusal as it was.
    return true;
  }
}

/**
 * Below minMembers with no file yet (first start): write what the handler renders for no members
 * (e.g. nginx's upstream with one `down` placeholder), checked like any file. The outcome stays
 * `refused`; a handler that cannot render an empty form (redis: nutcracker refuses an empty pool)
 * leaves no file, as before.
 */
async function installEmpty(target: ClusterTarget, reason: string, logger: Logger): Promise<DetailedOutcome> {
  const refused = { outcome: 'refused' as const, stage: 'min-members' as const, reason };
  const rendered = renderMembers(target, [], logger);
  if (!rendered.ok) {
    logger.warn(`${target.name}: refusing to install ${reason}; ${target.file} does not exist and its empty form cannot be written either: ${rendered.reason}`);
    return refused;
  }
  try {
    const result = await installFile(target.file, rendered.text, installOptions(target, logger));
    if ('checkFailed' in result) {
      logger.warn(`${target.name}: refusing to install ${reason}; ${target.file} does not exist and its check refused the empty form: ${checkReason(result.output)}`);
      return refused;
    }
  } catch (err) {
    logger.warn(`${target.name}: refusing to install ${reason}; could not write the empty form of ${target.file} either: ${describeError(err)}`);
    return refused;
  }
  logger.warn(`${target.name}: ${reason}; ${target.file} did not exist: wrote it with no members, until there are enough`);
  return { ...refused, wroteEmpty: true, text: rendered.text };
}

/** `check exited with code 1: <the command's first line of output>`. */
function checkReason(output: string): string {
  const [first = '', ...rest] = output.split('\n');
  const detail = rest.map((l) => l.trim()).find((l) => l !== '');
  return firstLine(detail ? `${first.trim()}: ${detail}` : first, '(no output)');
}
