import { constants, type Stats } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { delimiter, dirname, join, resolve } from 'node:path';
import { type AnyHandler, type ClusterControlConfig, ConfigError, resolveClusterTarget } from '@cluster-control/core';
import { checkTarget, UnsafeTargetError } from '@cluster-control/core/install';
import { classifyKey, parseMemberName } from '@cluster-control/core/model';
import { describeError } from '@cluster-control/core/util';

/**
 * Everything about a loaded configuration that would fail only later, at run time, each as one
 * line naming the field (`clusters[web].reload: /usr/sbin/nope: no such executable`), in
 * configuration order. Nothing is written and etcd is not contacted:
 * - each cluster's handler loads and its options (and templates) compile;
 * - `check` and `reload` name an executable (looked up in PATH when a bare name);
 * - the target file's directory exists, may be written by this process, and is one an install
 *   writes in (not writable by others without the sticky bit, owned by root or by us);
 * - `self.key`, when under a configured cluster, is a member key that cluster's watchers accept.
 */
export async function configProblems(config: ClusterControlConfig, builtins: Readonly<Record<string, AnyHandler>>): Promise<string[]> {
  const problems: string[] = [];
  for (const [index, cluster] of config.clusters.entries()) {
    const at = `clusters[${cluster.name}]`;
    try {
      await resolveClusterTarget(config, cluster, builtins);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      // The resolver names the file and the index; here every line names the cluster.
      let message = err.message.startsWith(`${config.sourcePath}: `) ? err.message.slice(config.sourcePath.length + 2) : err.message;
      if (message.startsWith(`clusters[${index}]`)) message = at + message.slice(`clusters[${index}]`.length);
      problems.push(message);
    }
    for (const field of ['check', 'reload'] as const) {
      const argv = cluster[field];
      // `{src}` is filled in at run time: nothing to look up before then.
      if (!argv?.[0] || argv[0].includes('{src}')) continue;
      const problem = await executableProblem(argv[0]);
      if (problem) problems.push(`${at}.${field}: ${problem}`);
    }
    const target = await targetProblem(cluster.file);
    if (target) problems.push(`${at}.file: ${target}`);
  }
  if (config.self) problems.push(...selfProblems(config));
  return problems;
}

/** Why `command` (argv[0]) cannot be run, or undefined: a path is checked as is, a bare name in PATH. */
export async function executableProblem(command: string, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  if (command.includes('/')) {
    const path = resolve(command);
    const problem = await notExecutable(path);
    return problem && `${command}: ${problem}`;
  }
  const dirs = (env.PATH ?? '').split(delimiter).filter((d) => d !== '');
  for (const dir of dirs) {
    if ((await notExecutable(join(dir, command))) === undefined) return undefined;
  }
  return `${command}: no such executable in PATH`;
}

async function notExecutable(path: string): Promise<string | undefined> {
  let st: Stats;
  try {
    st = await stat(path);
  } catch (err) {
    return errorCode(err) === 'ENOENT' || errorCode(err) === 'ENOTDIR' ? 'no such executable' : describeError(err);
  }
  if (!st.isFile()) return 'not a file';
  try {
    await access(path, constants.X_OK);
    return undefined;
  } catch {
    return 'not executable by this user';
  }
}

/**
 * Why installing `file` would fail, or undefined: its directory exists and is writable by us, and
 * the installer's own checks (checkTarget: symlinks, trusted directories, what is there now) pass.
 */
export async function targetProblem(file: string): Promise<string | undefined> {
  const dir = dirname(file);
  try {
    const st = await stat(dir);
    if (!st.isDirectory()) return `${dir} is not a directory`;
  } catch (err) {
    return errorCode(err) === 'ENOENT' ? `directory ${dir} does not exist` : `directory ${dir}: ${describeError(err)}`;
  }
  try {
    await access(dir, constants.W_OK);
  } catch {
    return `directory ${dir} is not writable by this user (uid ${process.geteuid?.() ?? '?'})`;
  }
  try {
    checkTarget(file);
    return undefined;
  } catch (err) {
    if (err instanceof UnsafeTargetError) return `installs there are refused: ${err.reason}`;
    return describeError(err);
  }
}

/** `self.key` under a configured cluster: would that cluster's watchers take it as a member? */
function selfProblems(config: ClusterControlConfig): string[] {
  const key = config.self!.key;
  const problems: string[] = [];
  for (const cluster of config.clusters) {
    const place = classifyKey(cluster.path, key);
    if (place.kind === 'nested') problems.push(`self.key: ${key} is nested under clusters[${cluster.name}].path ${cluster.path}/: its watchers ignore it`);
    else if (place.kind === 'self') problems.push(`self.key: ${key} is clusters[${cluster.name}].path itself, not a member key under it`);
    else if (place.kind === 'member') {
      const parsed = parseMemberName(place.name);
      if (!parsed.ok) problems.push(`self.key: ${key}: clusters[${cluster.name}] watchers would ignore it: ${parsed.reason}`);
    }
  }
  return problems;
}

function errorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

/** The summary after the problem lines. */
export function summarize(config: ClusterControlConfig, problems: readonly string[]): string {
  if (problems.length === 0) return `${config.sourcePath}: OK (${config.clusters.length} cluster(s)${config.self ? `, self ${config.self.key}` : ''})`;
  return `${config.sourcePath}: ${problems.length} problem${problems.length === 1 ? '' : 's'}`;
}
