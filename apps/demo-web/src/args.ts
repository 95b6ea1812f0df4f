import { isIPv4, isIPv6 } from 'node:net';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

// The options every demo app takes (each app carries its own copy: the apps share code only
// through @cluster-control/core and @cluster-control/handlers, like separate container images).

export class UsageError extends Error {
  override name = 'UsageError';
}

export interface CommonArgs {
  /** The address the app binds, e.g. 127.0.0.2 (IPv6 without brackets). */
  host: string;
  port: number;
  /** `host:port` (`[v6]:port`): the app's name, the last segment of its key. */
  name: string;
  /** `http://host:port`, no trailing slash. */
  url: string;
  etcd: string[];
  /** Without a trailing slash, e.g. /clusterdemo. */
  prefix: string;
  ttl: number;
  /** Absolute; undefined = a new temp dir. */
  dataDir: string | undefined;
}

export const DEFAULT_ETCD = 'http://127.0.0.1:2379';

export const COMMON_USAGE = `  --host ADDRESS     the loopback address to bind (default 127.0.0.1)
  --port PORT        HTTP port (default 8080)
  --etcd URL[,URL]   etcd endpoints (default: $CLUSTER_CONTROL_ETCD or ${DEFAULT_ETCD})
  --prefix PATH      key prefix (default /clusterdemo)
  --ttl SECONDS      registration lease TTL (default 5; heartbeat every ttl/3)
  --data-dir DIR     where cluster files are written (default: a new temp dir)
  -h, --help         show this help`;

const commonOptions = {
  host: { type: 'string' },
  port: { type: 'string' },
  etcd: { type: 'string' },
  prefix: { type: 'string' },
  ttl: { type: 'string' },
  'data-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type StringOptions = Record<string, { type: 'string' }>;

/**
 * Parses the common options plus the app's own string options. Throws UsageError with a one-line
 * message on anything wrong; returns 'help' for --help.
 */
export function parseCommonArgs<E extends StringOptions>(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  extra: E,
): 'help' | { common: CommonArgs; extra: { [K in keyof E]?: string } } {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: [...argv], options: { ...commonOptions, ...extra }, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new UsageError(describeParseError(err));
  }
  if (values.help === true) return 'help';
  const str = (key: string): string | undefined => {
    const v = values[key];
    return typeof v === 'string' ? v : undefined;
  };

  const host = parseHost(str('host') ?? '127.0.0.1');
  const port = parseIntegerOption('--port', str('port') ?? '8080', 1, 65535);
  const etcd = parseEndpoints(str('etcd') ?? env.CLUSTER_CONTROL_ETCD ?? DEFAULT_ETCD);
  const prefix = parsePrefix(str('prefix') ?? '/clusterdemo');
  const ttl = parseIntegerOption('--ttl', str('ttl') ?? '5', 1, 3600);
  const dataDirText = str('data-dir');
  if (dataDirText !== undefined && dataDirText.trim() === '') throw new UsageError('--data-dir: expected a directory, got an empty string');
  const shownHost = isIPv6(host) ? `[${host}]` : host;
  const extraValues: { [K in keyof E]?: string } = {};
  for (const key of Object.keys(extra) as (keyof E & string)[]) {
    const v = str(key);
    if (v !== undefined) extraValues[key] = v;
  }
  return {
    common: {
      host,
      port,
      name: `${shownHost}:${port}`,
      url: `http://${shownHost}:${port}`,
      etcd,
      prefix,
      ttl,
      dataDir: dataDirText === undefined ? undefined : resolve(dataDirText),
    },
    extra: extraValues,
  };
}

function describeParseError(err: unknown): string {
  const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : '';
  const message = err instanceof Error ? err.message : String(err);
  const quoted = /'([^']+)'/.exec(message)?.[1];
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return `unknown option ${quoted ?? message}`;
  if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') return `unexpected argument ${quoted ?? message}`;
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const option = quoted?.split(' ')[0];
    return option ? `${option}: expected a value` : message;
  }
  return message;
}

const HOST_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

function parseHost(text: string): string {
  if (isIPv4(text)) return text;
  const unbracketed = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  if (isIPv6(unbracketed)) return unbracketed.toLowerCase();
  const labels = text.split('.');
  if (text.length <= 253 && labels.every((l) => HOST_LABEL.test(l)) && !/^[0-9]+$/.test(labels[labels.length - 1] ?? '')) return text.toLowerCase();
  throw new UsageError(`--host: expected an IP address or host name, got ${JSON.stringify(text)}`);
}

export function parseIntegerOption(option: string, text: string, min: number, max: number): number {
  const value = /^[0-9]+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) throw new UsageError(`${option}: expected an integer from ${min} to ${max}, got ${JSON.stringify(text)}`);
  return value;
}

function parseEndpoints(text: string): string[] {
  const endpoints = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (endpoints.length === 0) throw new UsageError('--etcd: expected one or more http(s) URLs, got nothing');
  for (const endpoint of endpoints) {
    let url: URL | undefined;
    try {
      url = new URL(endpoint);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.host === '') {
      throw new UsageError(`--etcd: expected an http(s) URL like ${DEFAULT_ETCD}, got ${JSON.stringify(endpoint)}`);
    }
  }
  return endpoints;
}

const PREFIX = /^(?:\/[A-Za-z0-9._~@+=-]+)+$/;

function parsePrefix(text: string): string {
  const prefix = text.length > 1 && text.endsWith('/') ? text.slice(0, -1) : text;
  if (!PREFIX.test(prefix)) throw new UsageError(`--prefix: expected a key path like /clusterdemo (letters, digits, ._~@+=-), got ${JSON.stringify(text)}`);
  return prefix;
}
