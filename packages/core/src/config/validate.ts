import { FieldError, redactUserinfo } from './normalize.js';
import { DEFAULT_MEMBER_LIMITS, type MemberLimits } from '../model/member-limits.js';
import { DEFAULT_STATUS_PREFIX, DEFAULT_STATUS_TTL } from '../status/status-record.js';
import type { ClusterEntry, ConfigFile, EtcdEntry, HandlerConfigEntry, SelfEntry } from './schema.js';

// Checks the parsed JSON of a configuration file against its fixed shape, applies the defaults and
// drops unknown keys. Throws a FieldError for the first mistake, looking at the keys in the order
// they are listed below (not the order they are written in); its path is like `clusters[1].handler`,
// or '' when the file is not an object at all.
//
// Only the fixed shape is walked, never user data of arbitrary depth, and each array is visited once:
// a hostile file cannot make this recurse or take more than linear time.

/** Reads one value; `at` is its path, for error messages. */
type Parser<T> = (value: unknown, at: string) => T;
type JsonObject = Record<string, unknown>;

/** `{ etcd, self, clusters }` as written, with defaults applied. Throws FieldError. */
export function validateConfigFile(data: unknown): ConfigFile {
  const file = object(data, '');
  const etcdValue = get(file, 'etcd');
  return defined({
    // A missing "etcd" is an empty one: its defaults still apply.
    etcd: etcd(etcdValue === undefined ? {} : etcdValue, 'etcd'),
    self: optional(file, 'self', '', selfEntry),
    clusters: withDefault(file, 'clusters', '', [], array(cluster)),
    status: optional(file, 'status', '', statusEntry),
  });
}

/** `false` (no status keys), or where and how long watchers' status keys live. */
function statusEntry(value: unknown, at: string): { prefix: string; ttl: number } | false {
  if (value === false) return false;
  const o = object(value, at);
  return {
    prefix: withDefault(o, 'prefix', at, DEFAULT_STATUS_PREFIX, text),
    ttl: withDefault(o, 'ttl', at, DEFAULT_STATUS_TTL, integer(2)),
  };
}

// ---- Sections ----

// Each section lists its keys in one object literal, evaluated in order: the first mistake is in the first key listed.
function etcd(value: unknown, at: string): EtcdEntry {
  const o = object(value, at);
  return defined({
    server: optional(o, 'server', at, text),
    host: optional(o, 'host', at, text),
    port: optional(o, 'port', at, port),
    endpoints: optional(o, 'endpoints', at, nonEmpty(array(text))),
    auth: optional(o, 'auth', at, (v, a) => {
      // "auth": "user:password" must not be echoed either.
      if (!isObject(v)) fail(a, `expected an object with "username" and "password", got ${kind(v)} (value not shown)`);
      const fields = v;
      // Secrets: an error names the field and the kind of value, never the value.
      return { username: required(fields, 'username', a, secret(true)), password: required(fields, 'password', a, secret(false)) };
    }),
    tls: optional(o, 'tls', at, (v, a) => {
      const fields = object(v, a);
      return defined({ ca: optional(fields, 'ca', a, text), cert: optional(fields, 'cert', a, text), key: optional(fields, 'key', a, text) });
    }),
    timeoutMs: withDefault(o, 'timeoutMs', at, 5000, integer(1)),
    transport: withDefault(o, 'transport', at, 'auto', oneOf(['auto', 'gateway', 'grpc'] as const)),
  });
}

/** PHP-era files may quote the port. */
function port(value: unknown, at: string): number {
  return integer(1, 65535)(typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value, at);
}

function selfEntry(value: unknown, at: string): SelfEntry {
  const o = object(value, at);
  return defined({
    key: required(o, 'key', at, text),
    ttl: withDefault(o, 'ttl', at, 60, integer(2)),
    heartbeat: optional(o, 'heartbeat', at, positiveNumber),
    value: optional(o, 'value', at, selfValue),
  });
}

function selfValue(value: unknown, at: string): string | JsonObject {
  if (typeof value === 'string') return value;
  if (isObject(value)) return copyOwn(value, {});
  return invalid(at, 'a string or an object', value);
}

function cluster(value: unknown, at: string): ClusterEntry {
  const o = object(value, at);
  return defined({
    name: required(o, 'name', at, text),
    path: required(o, 'path', at, text),
    handler: required(o, 'handler', at, text),
    handlerConfig: optional(o, 'handlerConfig', at, handlerConfig),
    file: optional(o, 'file', at, text),
    reload: optional(o, 'reload', at, command),
    check: optional(o, 'check', at, command),
    reloadSignal: optional(o, 'reloadSignal', at, text),
    reloadTimeoutMs: withDefault(o, 'reloadTimeoutMs', at, 30_000, integer(1)),
    checkTimeoutMs: withDefault(o, 'checkTimeoutMs', at, 30_000, integer(1)),
    wait: optional(o, 'wait', at, (v, a) => {
      const fields = object(v, a);
      return { min: required(fields, 'min', a, integer(0)), max: required(fields, 'max', a, integer(0)) };
    }),
    minMembers: withDefault(o, 'minMembers', at, 0, integer(0)),
    mode: optional(o, 'mode', at, mode),
    members: optional(o, 'members', at, (v, a) => {
      const fields = object(v, a);
      return defined({
        allow: optional(fields, 'allow', a, array(text)),
        deny: optional(fields, 'deny', a, array(text)),
        hostnames: optional(fields, 'hostnames', a, boolean),
        resolve: optional(fields, 'resolve', a, boolean),
      });
    }),
    limits: withDefault(o, 'limits', at, DEFAULT_MEMBER_LIMITS, memberLimits),
    reloadMinIntervalMs: withDefault(o, 'reloadMinIntervalMs', at, 1000, integer(0)),
  });
}

function memberLimits(value: unknown, at: string): MemberLimits {
  const o = object(value, at);
  const d = DEFAULT_MEMBER_LIMITS;
  return {
    valueBytes: withDefault(o, 'valueBytes', at, d.valueBytes, integer(1)),
    metaDepth: withDefault(o, 'metaDepth', at, d.metaDepth, integer(1, 1000)),
    metaKeys: withDefault(o, 'metaKeys', at, d.metaKeys, integer(1)),
    spellings: withDefault(o, 'spellings', at, d.spellings, integer(1)),
    clusterBytes: withDefault(o, 'clusterBytes', at, d.clusterBytes, integer(1)),
  };
}

/** A file name, or the handler's options (all keys kept) with perhaps the file among them. */
function handlerConfig(value: unknown, at: string): string | HandlerConfigEntry {
  if (typeof value === 'string') return text(value, at);
  if (isObject(value)) {
    const file = optional(value, 'file', at, text);
    return copyOwn(value, file === undefined ? {} : { file }, 'file');
  }
  return invalid(at, 'a file name or an object of handler options', value);
}

/** A command line, or argv. */
function command(value: unknown, at: string): string | string[] {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return array(string)(value, at);
  return invalid(at, 'a command string or an array of strings', value);
}

// A number here is too easily written as decimal 644; only an octal string is unambiguous.
function mode(value: unknown, at: string): string {
  if (typeof value !== 'string' || !/^0?[0-7]{3}$/.test(value)) invalid(at, 'an octal permission string such as "0640"', value);
  return value;
}

// ---- Generic helpers ----

/** One of a few fixed strings. */
function oneOf<const T extends readonly string[]>(choices: T): Parser<T[number]> {
  return (value, at) => {
    if (typeof value !== 'string' || !choices.includes(value)) invalid(at, `one of ${choices.map((c) => JSON.stringify(c)).join(', ')}`, value);
    return value;
  };
}

function string(value: unknown, at: string): string {
  if (typeof value !== 'string') invalid(at, 'a string', value);
  return value;
}

function boolean(value: unknown, at: string): boolean {
  if (typeof value !== 'boolean') invalid(at, 'true or false', value);
  return value;
}

function text(value: unknown, at: string): string {
  const s = string(value, at);
  if (s === '') invalid(at, 'a non-empty string', s);
  return s;
}

/** A safe integer in [min, max]. */
function integer(min: number, max?: number): Parser<number> {
  const what = max === undefined ? `an integer >= ${min}` : `an integer between ${min} and ${max}`;
  return (value, at) => {
    if (!Number.isSafeInteger(value) || (value as number) < min || (max !== undefined && (value as number) > max)) invalid(at, what, value);
    return value as number;
  };
}

/** A finite number > 0 (JSON.parse turns 1e999 into Infinity). */
function positiveNumber(value: unknown, at: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) invalid(at, 'a number', value);
  if (value <= 0) invalid(at, 'a number > 0', value);
  return value;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function object(value: unknown, at: string): JsonObject {
  if (!isObject(value)) invalid(at, 'an object', value);
  return value;
}

function array<T>(item: Parser<T>): Parser<T[]> {
  return (value, at) => {
    if (!Array.isArray(value)) invalid(at, 'an array', value);
    const items: T[] = [];
    for (let i = 0; i < value.length; i++) items.push(item(value[i], `${at}[${i}]`));
    return items;
  };
}

function nonEmpty<T>(parse: Parser<T[]>): Parser<T[]> {
  return (value, at) => {
    const items = parse(value, at);
    if (items.length === 0) fail(at, 'expected at least 1 item(s)');
    return items;
  };
}

/** An own property: a key such as `constructor` must not be found on Object.prototype. */
function get(o: JsonObject, key: string): unknown {
  return Object.hasOwn(o, key) ? o[key] : undefined;
}

function keyPath(at: string, key: string): string {
  return at === '' ? key : `${at}.${key}`;
}

function required<T>(o: JsonObject, key: string, at: string, parse: Parser<T>): T {
  return parse(get(o, key), keyPath(at, key));
}

function optional<T>(o: JsonObject, key: string, at: string, parse: Parser<T>): T | undefined {
  const value = get(o, key);
  return value === undefined ? undefined : parse(value, keyPath(at, key));
}

function withDefault<T>(o: JsonObject, key: string, at: string, fallback: T, parse: Parser<T>): T {
  const value = get(o, key);
  return value === undefined ? fallback : parse(value, keyPath(at, key));
}

/** The object without its undefined properties, so that an optional key left out stays out. */
function defined<T extends object>(o: T): T {
  for (const key of Object.keys(o) as (keyof T)[]) if (o[key] === undefined) delete o[key];
  return o;
}

/**
 * Adds `from`'s own keys but `except` to `to` (values shared), and returns `to`. An own `__proto__`
 * key (JSON.parse makes one) is dropped: assigning it would replace `to`'s prototype.
 */
function copyOwn<T extends JsonObject>(from: JsonObject, to: T, except?: string): T {
  const target: JsonObject = to;
  for (const key of Object.keys(from)) {
    if (key !== '__proto__' && key !== except) target[key] = from[key];
  }
  return to;
}

// ---- Messages ----

function describe(input: unknown): string {
  if (typeof input === 'number' || typeof input === 'boolean') return String(input);
  if (typeof input !== 'string') return kind(input);
  // A URL's user:password never reaches a message (redacted before it is shortened).
  const shown = redactUserinfo(input);
  return JSON.stringify(shown.length > 40 ? `${shown.slice(0, 40)}…` : shown);
}

/** What kind of JSON value `input` is, without showing it. */
function kind(input: unknown): string {
  if (input === null) return 'null';
  if (Array.isArray(input)) return 'an array';
  if (typeof input === 'object') return 'an object';
  if (typeof input === 'string') return 'a string';
  if (typeof input === 'number') return 'a number';
  if (typeof input === 'boolean') return 'a boolean';
  return typeof input;
}

/** A string that is a secret (etcd.auth.*): errors say what kind of value it is, never the value. */
function secret(nonEmpty: boolean): Parser<string> {
  return (value, at) => {
    if (value === undefined) fail(at, 'missing (expected a string)');
    if (typeof value !== 'string') fail(at, `expected a string, got ${kind(value)} (value not shown)`);
    if (nonEmpty && value === '') fail(at, 'expected a non-empty string, got an empty one');
    return value;
  };
}

/** `expected <what>, got <input>`, or `missing (expected <what>)`. */
function expected(what: string, input: unknown): string {
  return input === undefined ? `missing (expected ${what})` : `expected ${what}, got ${describe(input)}`;
}

function fail(at: string, message: string): never {
  throw new FieldError(at, message);
}

function invalid(at: string, what: string, input: unknown): never {
  return fail(at, expected(what, input));
}
