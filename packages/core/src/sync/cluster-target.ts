import type { AnyHandler } from '../handler/handler.js';
import { installFile } from '../install/atomic-write.js';
import type { LogOnce } from '../model/log-once.js';
import type { Member } from '../model/member.js';
import { describeError } from '../etcd/errors.js';
import type { AddressPolicy } from '../model/address-policy.js';
import type { MemberLimits } from '../model/member-limits.js';
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

/** render (pure) → install (atomic, checked). Never throws: the outcome says what happened. */
export async function renderAndInstall(
  target: ClusterTarget,
  members: readonly Member[],
  logger: Logger,
  metrics?: Metrics,
  once?: LogOnce,
): Promise<InstallOutcome> {
  const labels = { cluster: target.name };
  if (members.length < target.minMembers) {
    logger.warn(`${target.name}: refusing to install ${members.length} member(s), fewer than minMembers ${target.minMembers}; ${target.file} left as it is`);
    metrics?.inc('cluster_control_installs_total', { ...labels, result: 'refused' });
    return 'refused';
  }
  let text: string;
  try {
    const report = (problem: string) => {
      if (!once || once.first(`report:${problem}`)) logger.warn(`${target.name}: ${problem}`);
    };
    text = target.handler.render(members, target.handlerOptions, { cluster: target.name, path: target.path, report });
    metrics?.inc('cluster_control_renders_total', labels);
  } catch (err) {
    logger.error(`${target.name}: handler ${target.handler.name} failed to render: ${describeError(err)}`);
    metrics?.inc('cluster_control_installs_total', { ...labels, result: 'failed' });
    return 'failed';
  }
  try {
    const result = await installFile(target.file, text, {
      logger,
      ...(target.mode !== undefined ? { mode: target.mode } : {}),
      ...(target.check ? { check: { argv: target.check, timeoutMs: target.checkTimeoutMs } } : {}),
    });
    if ('checkFailed' in result) {
      logger.error(`${target.name}: check failed; ${target.file} not replaced: ${result.output.trim() || '(no output)'}`);
      metrics?.inc('cluster_control_installs_total', { ...labels, result: 'check_failed' });
      return 'check-failed';
    }
    if (!result.changed) return 'unchanged';
    logger.info(`${target.name}: wrote ${target.file} (${members.length} member(s))`);
    metrics?.inc('cluster_control_installs_total', { ...labels, result: 'ok' });
    return 'installed';
  } catch (err) {
    logger.error(`${target.name}: could not write ${target.file}: ${describeError(err)}`);
    metrics?.inc('cluster_control_installs_total', { ...labels, result: 'failed' });
    return 'failed';
  }
}
