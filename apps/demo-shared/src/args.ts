import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { isIPv6 } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type Logger, createLogger } from '@cluster-control/core';
import { parseMemberName } from '@cluster-control/core/model';
import { DEFAULT_STATUS_PREFIX } from '@cluster-control/core/status';
import { describeError } from '@cluster-control/core/util';

// The command line every demo app takes, the data dir it names, and the process around an app.
// What is the product's (running under the Supervisor as an HTTP server, reading a cluster file
// back, validating a host) comes from core; what is here is the demo's own (see README.md).

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
export function parseCommonArgs<E extends StringOptions>(argv: readonly string[], env: NodeJS.ProcessEnv, extra: E): 'help' | { common: CommonArgs; extra: { [K in keyof E]?: string } } {
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

/** An address or host name that core accepts as a member's host, so the app's own key is one its peers can read. */
function parseHost(text: string): string {
  const unbracketed = text.replace(/^\[(.*)\]$/, '$1');
  const parsed = text.includes('%') ? undefined : parseMemberName(isIPv6(unbracketed) ? `[${unbracketed}]` : text);
  if (parsed?.ok && parsed.port === undefined) return parsed.host;
  throw new UsageError(`--host: expected an IP address or host name, got ${JSON.stringify(text)}`);
}

function parseIntegerOption(option: string, text: string, min: number, max: number): number {
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
    const url = URL.canParse(endpoint) ? new URL(endpoint) : undefined;
    if (!url || !/^https?:$/.test(url.protocol) || url.host === '') throw new UsageError(`--etcd: expected an http(s) URL like ${DEFAULT_ETCD}, got ${JSON.stringify(endpoint)}`);
  }
  return endpoints;
}

const PREFIX = /^(?:\/[A-Za-z0-9._~@+=-]+)+$/;

function parsePrefix(text: string): string {
  const prefix = text.length > 1 && text.endsWith('/') ? text.slice(0, -1) : text;
  if (!PREFIX.test(prefix)) throw new UsageError(`--prefix: expected a key path like /clusterdemo (letters, digits, ._~@+=-), got ${JSON.stringify(text)}`);
  return prefix;
}

/** The directory --data-dir names (created), or a new temp dir that dispose() removes again. */
export async function dataDir(args: CommonArgs, app: string): Promise<{ dir: string; dispose: () => Promise<void> }> {
  if (args.dataDir !== undefined) {
    await mkdir(args.dataDir, { recursive: true });
    return { dir: args.dataDir, dispose: async () => {} };
  }
  const dir = await mkdtemp(join(tmpdir(), `${app}-`));
  return { dir, dispose: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * How every demo app runs under superviseHttpServer: registered once GET /healthz answers (within
 * 15 s), 300 ms of drain between deregistering and closing, one `ready <url>` line on stderr once
 * registered and watching (the demo runner waits for it), and its watchers' status records on a
 * lease of the same `--ttl` as its key: a killed app's watchers leave the fleet view (and stop
 * holding other apps' drains) as soon as its key leaves the cluster.
 */
export function supervision(args: Pick<CommonArgs, 'ttl'>) {
  return {
    readyPath: '/healthz',
    readyTimeoutMs: 15_000,
    drainMs: 300,
    onReady: (url: string) => void process.stderr.write(`ready ${url}\n`),
    status: { prefix: DEFAULT_STATUS_PREFIX, ttl: args.ttl },
  };
}

/**
 * Runs an app as the process: parses the command line (--help prints `usage`: exit 0; a usage
 * error is one line: exit 2), runs `run` with a logger named after the app and its address, and
 * exits with the code it resolves with (1 when it fails, said in one line).
 */
export async function runApp<A extends CommonArgs>(
  app: string,
  usage: string,
  parse: (argv: readonly string[], env: NodeJS.ProcessEnv) => 'help' | A,
  run: (args: A, logger: Logger) => Promise<number>,
): Promise<void> {
  const code = await (async () => {
    const args = parse(process.argv.slice(2), process.env);
    if (args !== 'help') return await run(args, createLogger({ prefix: `${app}[${args.name}]` }));
    process.stdout.write(usage + '\n');
    return 0;
  })().catch((err: unknown) => {
    process.stderr.write(err instanceof UsageError ? `${app}: ${err.message} (see --help)\n` : `${app}: ${describeError(err)}\n`);
    return err instanceof UsageError ? 2 : 1;
  });
  process.exitCode = code;
  // Everything is closed by now; should a stray handle remain, do not hang around for it.
  setTimeout(() => {
    process.stderr.write(`${app}: still running 2 s after stopping (open handles: ${process.getActiveResourcesInfo().join(', ')}); exiting\n`);
    process.exit(code);
  }, 2000).unref();
}
