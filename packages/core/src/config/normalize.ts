import path from 'node:path';
import { parseSignalName } from './signal-name.js';
import { splitCommandLine } from './split-command-line.js';
import type { ClusterConfig, ClusterControlConfig, ClusterEntry, ConfigFile, EtcdConfig, SelfConfig } from './schema.js';
import { ConfigError } from './config-error.js';
import { DEFAULT_STATUS_PREFIX, DEFAULT_STATUS_TTL } from '../status/status-record.js';
import { type AddressPolicy, type Cidr, parseCidr } from '../model/address-policy.js';
import { ErrorCode } from '../util/error-codes.js';

const DEFAULT_ETCD_PORT = 2379;

/** A mistake in one field; `path` is like `clusters[1].handler`. */
export class FieldError extends Error {
  readonly code = ErrorCode.CC_CONFIG_FIELD;

  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

function fail(at: string, message: string): never {
  throw new FieldError(at, message);
}

/** Applies defaults, cross-field rules and path resolution to a schema-valid file. Throws FieldError. */
export function normalizeConfig(file: ConfigFile, sourcePath: string, baseDir: string, warnings: string[] = []): ClusterControlConfig {
  const dir = path.resolve(baseDir);
  const config: ClusterControlConfig = {
    sourcePath,
    baseDir: dir,
    etcd: normalizeEtcd(file.etcd, dir),
    clusters: normalizeClusters(file.clusters, dir),
    status: normalizeStatus(file.status),
    warnings,
  };
  if (config.status) checkStatusPrefix(config.status.prefix, config.clusters);
  if (file.self) config.self = normalizeSelf(file.self);
  return config;
}

function normalizeStatus(status: ConfigFile['status']): ClusterControlConfig['status'] {
  if (status === false) return false;
  const written = status?.prefix ?? DEFAULT_STATUS_PREFIX;
  let end = written.length;
  while (written[end - 1] === '/') end--;
  const prefix = written.slice(0, end);
  if (!prefix.startsWith('/')) fail('status.prefix', `expected a key prefix such as "${DEFAULT_STATUS_PREFIX}", got ${JSON.stringify(written)}`);
  return { prefix, ttl: status?.ttl ?? DEFAULT_STATUS_TTL };
}

/** Status keys must never be members of a cluster, nor a cluster live among status keys. */
function checkStatusPrefix(prefix: string, clusters: ClusterConfig[]): void {
  const inside = (a: string, b: string) => a === b || a.startsWith(b + '/');
  clusters.forEach((c, i) => {
    if (inside(prefix, c.path) || inside(c.path, prefix)) fail(`clusters[${i}].path`, `overlaps the status prefix ${JSON.stringify(prefix)} (set "status": {"prefix": ...} elsewhere)`);
  });
}

function normalizeEtcd(etcd: ConfigFile['etcd'], dir: string): EtcdConfig {
  const result: EtcdConfig = {
    endpoints: endpoints(etcd),
    timeoutMs: etcd.timeoutMs,
    transport: etcd.transport,
  };
  if (etcd.auth) result.auth = { username: etcd.auth.username, password: etcd.auth.password };
  if (etcd.tls) {
    const { ca, cert, key } = etcd.tls;
    if ((cert === undefined) !== (key === undefined)) fail('etcd.tls', '"cert" and "key" must be given together');
    result.tls = {};
    if (ca !== undefined) result.tls.ca = path.resolve(dir, ca);
    if (cert !== undefined) result.tls.cert = path.resolve(dir, cert);
    if (key !== undefined) result.tls.key = path.resolve(dir, key);
  }
  return result;
}

function endpoints(etcd: ConfigFile['etcd']): string[] {
  const forms = [etcd.server !== undefined && '"server"', (etcd.host !== undefined || etcd.port !== undefined) && '"host"/"port"', etcd.endpoints !== undefined && '"endpoints"'].filter(
    (form) => form !== false,
  );
  if (forms.length > 1) fail('etcd', `give only one of "server", "host"/"port" or "endpoints" (found ${forms.join(' and ')})`);

  const url = (at: string, text: string) => endpointUrl(text) ?? fail(at, `expected a URL like "http://10.0.0.1:2379"${userinfoNote(text)}, got ${JSON.stringify(redactUserinfo(text))}`);
  if (etcd.endpoints) return etcd.endpoints.map((text, i) => url(`etcd.endpoints[${i}]`, text));
  if (etcd.server !== undefined) return [url('etcd.server', etcd.server)];
  if (etcd.host === undefined && etcd.port === undefined) return [`http://127.0.0.1:${DEFAULT_ETCD_PORT}`];

  const host = etcd.host ?? '127.0.0.1';
  const bracketed = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  const endpoint = /[\s/?#@]/.test(host) ? undefined : endpointUrl(`http://${bracketed}:${etcd.port ?? DEFAULT_ETCD_PORT}`);
  return [endpoint ?? fail('etcd.host', `expected a host name or IP address, got ${JSON.stringify(redactUserinfo(host))}`)];
}

/**
 * `http://user:pass@host:2379/x` → `http://***@host:2379/x` (also without a scheme:
 * `user:pass@host:2379` → `***@host:2379`): for any message that may show an endpoint.
 */
export function redactUserinfo(text: string): string {
  const scheme = /^[a-z][a-z\d+.-]*:\/\//i.exec(text)?.[0] ?? '';
  const rest = text.slice(scheme.length);
  const authorityEnd = rest.search(/[/?#]/);
  const authority = authorityEnd < 0 ? rest : rest.slice(0, authorityEnd);
  const at = authority.lastIndexOf('@');
  return at < 0 ? text : `${scheme}***${rest.slice(at)}`;
}

/** Why a URL with user:password is refused (credentials go in etcd.auth); its text is redacted. */
export function userinfoNote(text: string): string {
  return redactUserinfo(text) === text ? '' : ' without user:password (put credentials in etcd.auth)';
}

/** `http(s)://host:port` from `http://host:port/`, `host:port` or `https://host`; undefined if it is none of these. */
export function endpointUrl(text: string): string | undefined {
  // URL would drop a tab or newline inside the text and accept what is left.
  // eslint-disable-next-line no-control-regex -- control characters are what this refuses
  if (/[\s\u0000-\u001f\u007f]/.test(text)) return undefined;
  const full = /^[a-z][a-z\d+.-]*:\/\//i.test(text) ? text : `http://${text}`;
  let url: URL;
  try {
    url = new URL(full);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  if (!url.hostname || url.username || url.password || url.pathname !== '/' || url.search || url.hash) return undefined;
  // URL drops a port equal to the scheme's default (":80"), so read the one written.
  const authority = full.slice(full.indexOf('//') + 2).split(/[/?#]/, 1)[0] ?? '';
  const port = Number(/:(\d+)$/.exec(authority)?.[1] ?? DEFAULT_ETCD_PORT);
  if (port < 1) return undefined;
  return `${url.protocol}//${url.hostname}:${port}`;
}

function normalizeSelf(self: NonNullable<ConfigFile['self']>): SelfConfig {
  const heartbeat = self.heartbeat ?? Math.round((self.ttl * 1000) / 3) / 1000;
  if (heartbeat >= self.ttl) fail('self.heartbeat', `must be less than self.ttl (${self.ttl}), got ${heartbeat}`);
  const value = self.value === undefined ? '' : typeof self.value === 'string' ? self.value : jsonText(self.value, 'self.value');
  return { key: self.key, ttl: self.ttl, heartbeat, value };
}

/** JSON.stringify, which recurses: an object nested thousands deep (JSON.parse accepts it) overflows the stack. */
function jsonText(value: unknown, at: string): string {
  try {
    return JSON.stringify(value);
  } catch (error) {
    if (error instanceof RangeError) fail(at, 'nested too deeply');
    throw error;
  }
}

function normalizeClusters(clusters: ClusterEntry[], dir: string): ClusterConfig[] {
  const seen = new Map<string, number>();
  return clusters.map((cluster, i) => {
    const at = `clusters[${i}]`;
    const previous = seen.get(cluster.name);
    if (previous !== undefined) fail(`${at}.name`, `duplicate cluster name ${JSON.stringify(cluster.name)} (also clusters[${previous}])`);
    seen.set(cluster.name, i);
    return normalizeCluster(cluster, at, dir);
  });
}

function normalizeCluster(cluster: ClusterEntry, at: string, dir: string): ClusterConfig {
  // Not /\/+$/: that regex takes quadratic time on a long run of slashes not at the end.
  let end = cluster.path.length;
  while (cluster.path[end - 1] === '/') end--;
  const prefix = cluster.path.slice(0, end);
  if (!prefix.startsWith('/')) fail(`${at}.path`, `expected a key prefix such as "/clusters/${cluster.name}", got ${JSON.stringify(cluster.path)}`);

  const { handlerConfig } = cluster;
  const { file: optionsFile, ...handlerOptions } = typeof handlerConfig === 'object' ? handlerConfig : {};
  const files = [
    [`${at}.handlerConfig`, typeof handlerConfig === 'string' ? handlerConfig : undefined],
    [`${at}.handlerConfig.file`, optionsFile],
    [`${at}.file`, cluster.file],
  ].filter((entry): entry is [string, string] => entry[1] !== undefined);
  const [first, second] = files;
  if (first === undefined) fail(`${at}.handlerConfig`, 'no output file: set "handlerConfig" to a file name, or "handlerConfig.file", or "file"');
  if (second !== undefined) fail(second[0], `conflicts with ${first[0]}; give the output file once`);

  const result: ClusterConfig = {
    name: cluster.name,
    path: prefix,
    handler: cluster.handler,
    handlerOptions,
    file: path.resolve(dir, first[1]),
    reloadTimeoutMs: cluster.reloadTimeoutMs,
    checkTimeoutMs: cluster.checkTimeoutMs,
    minMembers: cluster.minMembers,
    addressPolicy: addressPolicy(cluster.members, `${at}.members`),
    limits: cluster.limits,
    reloadMinIntervalMs: cluster.reloadMinIntervalMs,
  };
  if (cluster.reload !== undefined) result.reload = argv(cluster.reload, `${at}.reload`, dir);
  if (cluster.check !== undefined) result.check = argv(cluster.check, `${at}.check`, dir);
  if (cluster.reloadSignal !== undefined) result.reloadSignal = signalName(cluster.reloadSignal, `${at}.reloadSignal`);
  if (cluster.wait) {
    const { min, max } = cluster.wait;
    if (min > max) fail(`${at}.wait`, `min (${min}) must not exceed max (${max})`);
    result.wait = { min, max };
  }
  if (cluster.mode !== undefined) result.mode = Number.parseInt(cluster.mode, 8);
  return result;
}

function addressPolicy(members: ClusterEntry['members'], at: string): AddressPolicy {
  const cidrs = (list: string[], where: string): Cidr[] =>
    list.map((text, i) => parseCidr(text) ?? fail(`${where}[${i}]`, `expected an address or network such as "10.0.0.0/8" or "fd00::/8", got ${JSON.stringify(text)}`));
  const policy: { allow?: Cidr[]; deny: Cidr[]; hostnames: boolean; resolve?: boolean } = {
    deny: cidrs(members?.deny ?? [], `${at}.deny`),
    hostnames: members?.hostnames ?? true,
  };
  if (members?.allow) policy.allow = cidrs(members.allow, `${at}.allow`);
  if (members?.resolve !== undefined) policy.resolve = members.resolve;
  return policy;
}

/**
 * The command's argv. A program named by a relative path (`./bin/reload.sh`, `bin/check`) is found
 * in the configuration file's directory, like every other relative path in the file, rather than
 * in whatever directory cluster-control was started from; a bare name (`apachectl`) is looked up
 * in PATH, as a shell would.
 */
function argv(command: string | string[], at: string, dir: string): string[] {
  let words: string[];
  try {
    words = typeof command === 'string' ? splitCommandLine(command) : [...command];
  } catch (error) {
    if (error instanceof ConfigError) fail(at, error.message);
    throw error;
  }
  const [program] = words;
  if (program === undefined || program === '') fail(at, 'expected a command, got an empty one');
  if (program.includes('/') && !path.isAbsolute(program)) words[0] = path.resolve(dir, program);
  return words;
}

function signalName(text: string, at: string): NodeJS.Signals {
  return parseSignalName(text) ?? fail(at, `expected a signal name such as "SIGHUP" or "SIGUSR1", got ${JSON.stringify(text)}`);
}
