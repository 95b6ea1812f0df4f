import { ConfigError } from '../config/config-error.js';
import type { ClusterConfig, ClusterControlConfig } from '../config/schema.js';
import { describeError } from '../util/describe-error.js';
import type { AnyHandler } from '../handler/handler.js';
import { resolveHandler } from '../handler/resolve-handler.js';
import { ErrorCode, hasErrorCode } from '../util/error-codes.js';
import type { ClusterTarget } from './cluster-target.js';

function isHandlerOptionsError(err: unknown): err is Error & { path?: unknown } {
  return hasErrorCode(err, ErrorCode.CC_HANDLER_OPTIONS) || (err instanceof Error && err.name === 'HandlerOptionsError');
}

/**
 * Turns a configured cluster into a ready-to-render target: loads its handler and validates the
 * handler's options, so a bad `handlerConfig` fails at start-up with the field named.
 */
export async function resolveClusterTarget(config: ClusterControlConfig, cluster: ClusterConfig, builtins: Readonly<Record<string, AnyHandler>>): Promise<ClusterTarget> {
  const index = config.clusters.indexOf(cluster);
  const field = `clusters[${index < 0 ? '?' : index}]`;
  let handler: AnyHandler;
  try {
    handler = await resolveHandler(cluster.handler, { builtins, baseDir: config.baseDir, field: `${field}.handler` });
  } catch (err) {
    throw new ConfigError(`${config.sourcePath}: ${describeError(err)}`, { cause: err });
  }
  let handlerOptions: unknown;
  try {
    handlerOptions = handler.parseOptions(cluster.handlerOptions, { baseDir: config.baseDir });
  } catch (err) {
    // Handler packages carry their own HandlerOptionsError class (the built-ins must load without
    // core), so match the code; a custom handler may throw one by name only, without a code.
    const optionPath = isHandlerOptionsError(err) && typeof err.path === 'string' ? err.path : '';
    const text = describeError(err);
    const message = optionPath && text.startsWith(`${optionPath}: `) ? text.slice(optionPath.length + 2) : text;
    const path = optionPath ? `.${optionPath}` : '';
    throw new ConfigError(`${config.sourcePath}: ${field}.handlerConfig${path}: ${message}`, { cause: err });
  }
  return {
    name: cluster.name,
    path: cluster.path,
    file: cluster.file,
    handler,
    handlerOptions,
    check: cluster.check,
    checkTimeoutMs: cluster.checkTimeoutMs,
    minMembers: cluster.minMembers,
    mode: cluster.mode,
    policy: cluster.addressPolicy,
    limits: cluster.limits,
  };
}
