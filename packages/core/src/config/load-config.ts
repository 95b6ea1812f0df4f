import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError } from './config-error.js';
import { describeJsonError } from './json-error.js';
import { endpointUrl, FieldError, normalizeConfig, redactUserinfo, userinfoNote } from './normalize.js';
import type { ClusterConfig, ClusterControlConfig } from './schema.js';
import { unknownFieldWarnings } from './unknown-fields.js';
import { validateConfigFile } from './validate.js';

export const DEFAULT_CONFIG_FILE = 'cluster-control.conf';
/** Comma-separated etcd endpoints that replace the configured ones. */
export const ETCD_ENV = 'CLUSTER_CONTROL_ETCD';

export interface LoadConfigOptions {
  /** `--conf FILE`; wins over the environment. */
  path?: string;
  /** Defaults to `process.env`; `CLUSTER_CONTROL_CONF` names the file, `CLUSTER_CONTROL_ETCD` replaces etcd's endpoints. */
  env?: NodeJS.ProcessEnv;
  /** Relative paths are resolved against this; defaults to `process.cwd()`. */
  cwd?: string;
}

/** The file to read: explicit `path`, else `CLUSTER_CONTROL_CONF`, else `./cluster-control.conf`; absolute. */
export function resolveConfigPath(options: LoadConfigOptions = {}): string {
  const { env = process.env, cwd = process.cwd() } = options;
  return path.resolve(cwd, options.path || env.CLUSTER_CONTROL_CONF || DEFAULT_CONFIG_FILE);
}

/**
 * Reads, validates and normalizes the configuration file, then applies `CLUSTER_CONTROL_ETCD`.
 * Throws ConfigError.
 */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<ClusterControlConfig> {
  const file = resolveConfigPath(options);
  const endpoints = endpointsFromEnv(options.env ?? process.env);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ConfigError(`${file}: configuration file not found (set --conf or CLUSTER_CONTROL_CONF)`);
    const reason = code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : (code ?? String(error));
    throw new ConfigError(`${file}: cannot read configuration file (${reason})`, { cause: error });
  }
  const config = parseConfig(text, file, path.dirname(file));
  if (endpoints) config.etcd.endpoints = endpoints;
  await checkTlsFiles(config);
  return config;
}

/**
 * The endpoints in `CLUSTER_CONTROL_ETCD` (comma-separated, each in any form `etcd.endpoints`
 * accepts), or undefined when it is unset or blank. Throws a one-line ConfigError naming the
 * variable; user:password in a URL is refused and never shown, as in the file.
 */
export function endpointsFromEnv(env: NodeJS.ProcessEnv): string[] | undefined {
  const value = env[ETCD_ENV];
  if (value === undefined || value.trim() === '') return undefined;
  return value.split(',').map((item) => {
    const text = item.trim();
    const endpoint = text === '' ? undefined : endpointUrl(text);
    if (endpoint !== undefined) return endpoint;
    const shown = redactUserinfo(text);
    const got = text === '' ? 'an empty item' : JSON.stringify(shown.length > 100 ? `${shown.slice(0, 100)}…` : shown);
    throw new ConfigError(`${ETCD_ENV}: expected comma-separated URLs like "http://10.0.0.1:2379,http://10.0.0.2:2379"${userinfoNote(text)}, got ${got}`);
  });
}

/**
 * etcd.tls {ca, cert, key} must name readable PEM files. Checked here so that a wrong path or a
 * file that is not PEM is one configuration error naming the field and the path, instead of an
 * OpenSSL decoder error retried forever; the file's contents (key material) are never shown.
 */
async function checkTlsFiles(config: ClusterControlConfig): Promise<void> {
  for (const field of ['ca', 'cert', 'key'] as const) {
    const file = config.etcd.tls?.[field];
    if (file === undefined) continue;
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const reason = code === 'ENOENT' ? 'no such file' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : (code ?? 'unreadable');
      throw new ConfigError(`${config.sourcePath}: etcd.tls.${field}: cannot read ${file} (${reason})`);
    }
    const pem = bytes.includes('-----BEGIN ');
    bytes.fill(0);
    if (!pem) throw new ConfigError(`${config.sourcePath}: etcd.tls.${field}: ${file} is not a PEM file (no "-----BEGIN" line; contents not shown)`);
  }
}

/**
 * Validates and normalizes the text of a configuration file without touching the disk.
 * `sourceName` starts every error message; relative paths in the file are resolved against `baseDir`.
 */
export function parseConfig(text: string, sourceName: string, baseDir: string): ClusterControlConfig {
  // Editors on Windows like to add a byte-order mark, which JSON.parse rejects.
  const json = text.replace(/^\uFEFF/, '');
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch (error) {
    const { line, column, message } = describeJsonError(json, error);
    throw new ConfigError(`${sourceName}:${line}:${column}: invalid JSON: ${message}`);
  }

  try {
    const file = validateConfigFile(data);
    return normalizeConfig(file, sourceName, baseDir, unknownFieldWarnings(data, sourceName));
  } catch (error) {
    // The path is empty when the file is not a JSON object at all.
    if (error instanceof FieldError) throw new ConfigError(error.path ? `${sourceName}: ${error.path}: ${error.message}` : `${sourceName}: ${error.message}`);
    throw error;
  }
}

/** The configured cluster of that name; ConfigError listing the configured ones otherwise. */
export function findCluster(config: ClusterControlConfig, name: string): ClusterConfig {
  const cluster = config.clusters.find((c) => c.name === name);
  if (cluster) return cluster;
  const names = config.clusters.map((c) => c.name);
  const known = names.length > 0 ? `configured: ${names.join(', ')}` : 'no clusters configured';
  throw new ConfigError(`${config.sourcePath}: unknown cluster ${JSON.stringify(name)} (${known})`);
}
