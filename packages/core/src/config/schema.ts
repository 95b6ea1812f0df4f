import { z } from 'zod';

// ---- Normalized configuration, as the rest of cluster-control sees it ----

export interface EtcdConfig {
  /** Always `http(s)://host:port`, no trailing slash. */
  endpoints: string[];
  auth?: { username: string; password: string };
  /** Absolute paths of PEM files. */
  tls?: { ca?: string; cert?: string; key?: string };
  /** Deadline of one etcd call (connecting included), ms. */
  timeoutMs: number;
}

export interface SelfConfig {
  key: string;
  /** Lease TTL, seconds. */
  ttl: number;
  /** Keep-alive interval, seconds (may be fractional); less than `ttl`. */
  heartbeat: number;
  /** Value put under `key`; an object in the file is stored as its JSON text. */
  value: string;
}

export interface ClusterConfig {
  name: string;
  /** Key prefix, starting with `/`, without trailing slash. */
  path: string;
  /** As written: a built-in name, a PHP class name, a module path or a package name. */
  handler: string;
  /** `handlerConfig` minus `file`; `{}` when `handlerConfig` is a file name. */
  handlerOptions: Record<string, unknown>;
  /** Absolute path of the output file. */
  file: string;
  /** argv run after each replacement of `file`. */
  reload?: string[];
  /** Signal sent to the server `run` supervises after each replacement, when there is no `reload`. */
  reloadSignal?: NodeJS.Signals;
  /** argv run on the staged file before it replaces `file`; `{src}` stands for its path. */
  check?: string[];
  reloadTimeoutMs: number;
  checkTimeoutMs: number;
  /** Debounce, ms: wait for `min` ms of quiet, at most `max` ms after the first change. */
  wait?: { min: number; max: number };
  /** Renders with fewer members are not installed. */
  minMembers: number;
  /** Permission bits for a newly created `file`. */
  mode?: number;
}

export interface ClusterControlConfig {
  /** The configuration file, as named in error messages. */
  sourcePath: string;
  /** Absolute directory that relative paths in the file are resolved against. */
  baseDir: string;
  etcd: EtcdConfig;
  self?: SelfConfig;
  clusters: ClusterConfig[];
}

// ---- The JSON file as written (PHP-era files plus extensions); unknown keys are ignored ----

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'a boolean',
  object: 'an object',
  record: 'an object',
  array: 'an array',
};

function describe(input: unknown): string {
  if (input === null) return 'null';
  if (Array.isArray(input)) return 'an array';
  if (typeof input === 'string') return JSON.stringify(input.length > 40 ? `${input.slice(0, 40)}…` : input);
  if (typeof input === 'object') return 'an object';
  return String(input);
}

/** `expected <what>, got <input>`, or `missing (expected <what>)`. */
export function expected(what: string, input: unknown): string {
  return input === undefined ? `missing (expected ${what})` : `expected ${what}, got ${describe(input)}`;
}

/** Turns zod's issues into the messages printed after the field's path. */
export const configErrorMap: z.core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case 'invalid_type':
      return expected(TYPE_NAMES[issue.expected] ?? issue.expected, issue.input);
    case 'too_small':
      if (issue.origin === 'string') return expected('a non-empty string', issue.input);
      if (issue.origin === 'array') return `expected at least ${issue.minimum} item(s)`;
      return expected(`a number ${issue.inclusive ? '>=' : '>'} ${issue.minimum}`, issue.input);
    default:
      return undefined;
  }
};

function integer(min: number, max?: number) {
  const what = max === undefined ? `an integer >= ${min}` : `an integer between ${min} and ${max}`;
  const error: z.core.$ZodErrorMap = (issue) => expected(what, issue.input);
  const schema = z.int({ error }).min(min, { error });
  return max === undefined ? schema : schema.max(max, { error });
}

const text = z.string().min(1);
const jsonObject = z.record(z.string(), z.unknown());
const command = z.union([z.string(), z.array(z.string())], {
  error: (issue) => expected('a command string or an array of strings', issue.input),
});

// PHP-era files may quote the port.
const port = z.preprocess((v) => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v), integer(1, 65535));

const etcdSchema = z.object({
  server: text.optional(),
  host: text.optional(),
  port: port.optional(),
  endpoints: z.array(text).min(1).optional(),
  auth: z.object({ username: text, password: z.string() }).optional(),
  tls: z.object({ ca: text.optional(), cert: text.optional(), key: text.optional() }).optional(),
  timeoutMs: integer(1).default(5000),
});

const selfSchema = z.object({
  key: text,
  ttl: integer(2).default(60),
  heartbeat: z.number().positive().optional(),
  value: z.union([z.string(), jsonObject], { error: (issue) => expected('a string or an object', issue.input) }).optional(),
});

// A number here is too easily written as decimal 644; only an octal string is unambiguous.
const modeError: z.core.$ZodErrorMap = (issue) => expected('an octal permission string such as "0640"', issue.input);

const clusterSchema = z.object({
  name: text,
  path: text,
  handler: text,
  handlerConfig: z
    .union([text, z.looseObject({ file: text.optional() })], {
      error: (issue) => expected('a file name or an object of handler options', issue.input),
    })
    .optional(),
  file: text.optional(),
  reload: command.optional(),
  check: command.optional(),
  reloadSignal: text.optional(),
  reloadTimeoutMs: integer(1).default(30_000),
  checkTimeoutMs: integer(1).default(30_000),
  wait: z.object({ min: integer(0), max: integer(0) }).optional(),
  minMembers: integer(0).default(0),
  mode: z.string({ error: modeError }).regex(/^0?[0-7]{3}$/, { error: modeError }).optional(),
});

export const configFileSchema = z.object({
  etcd: etcdSchema.prefault({}),
  self: selfSchema.optional(),
  clusters: z.array(clusterSchema).default([]),
});

/** The configuration file after validation, before normalization. */
export type ConfigFile = z.output<typeof configFileSchema>;
export type ClusterEntry = ConfigFile['clusters'][number];
