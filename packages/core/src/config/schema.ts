import type { AddressPolicy } from '../model/address-policy.js';
import type { MemberLimits } from '../model/member-limits.js';

// ---- Normalized configuration, as the rest of cluster-control sees it ----

export interface EtcdConfig {
  /** Always `http(s)://host:port`, no trailing slash. */
  endpoints: string[];
  auth?: { username: string; password: string };
  /** Absolute paths of PEM files. */
  tls?: { ca?: string; cert?: string; key?: string };
  /** Deadline of one etcd call (connecting included), ms. */
  timeoutMs: number;
  /**
   * How one-shot commands talk to etcd: `auto` (the JSON gateway, switching to gRPC for the rest
   * of the run when the endpoint has no gateway, e.g. `etcd grpc-proxy`), `gateway` or `grpc`.
   * Long-running commands always use gRPC (watches).
   */
  transport: EtcdTransport;
}

export type EtcdTransport = 'auto' | 'gateway' | 'grpc';

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
  /** Which member addresses may reach `file` (`members` in the file). */
  addressPolicy: AddressPolicy;
  /** Caps on one member's data; a member over one is quarantined. */
  limits: MemberLimits;
  /** Least time between two runs of the reload (command or signal), ms. */
  reloadMinIntervalMs: number;
}

export interface ClusterControlConfig {
  /** The configuration file, as named in error messages. */
  sourcePath: string;
  /** Absolute directory that relative paths in the file are resolved against. */
  baseDir: string;
  etcd: EtcdConfig;
  self?: SelfConfig;
  clusters: ClusterConfig[];
  /** Where watchers publish what they applied (README: Is the fleet in step?); false: they do not. */
  status: StatusConfig | false;
  /**
   * One log line each, for the caller to log as warnings: fields of the file that cluster-control
   * does not know (and ignored), e.g. `…/cluster-control.conf: clusters[0].relaod: unknown field,
   * ignored (did you mean "reload"?)`. At most 21 lines; never a value from the file.
   */
  warnings: string[];
}

export interface StatusConfig {
  /** Key prefix, starting with `/`, without trailing slash; never inside a cluster prefix. */
  prefix: string;
  /** TTL of each watcher's status lease, seconds. */
  ttl: number;
}

// ---- The JSON file as written (PHP-era files plus extensions), after validate.ts; unknown keys are dropped ----

export interface EtcdEntry {
  server?: string;
  host?: string;
  /** A quoted port (`"4001"`) has been turned into a number. */
  port?: number;
  endpoints?: string[];
  auth?: { username: string; password: string };
  tls?: { ca?: string; cert?: string; key?: string };
  timeoutMs: number;
  transport: EtcdTransport;
}

export interface SelfEntry {
  key: string;
  ttl: number;
  heartbeat?: number;
  value?: string | Record<string, unknown>;
}

/** An object `handlerConfig`: the handler's options, plus perhaps the output file. */
export interface HandlerConfigEntry {
  [option: string]: unknown;
  file?: string;
}

export interface ClusterEntry {
  name: string;
  path: string;
  handler: string;
  handlerConfig?: string | HandlerConfigEntry;
  file?: string;
  reload?: string | string[];
  check?: string | string[];
  reloadSignal?: string;
  reloadTimeoutMs: number;
  checkTimeoutMs: number;
  wait?: { min: number; max: number };
  minMembers: number;
  /** An octal string such as `"0640"`. */
  mode?: string;
  members?: { allow?: string[]; deny?: string[]; hostnames?: boolean; resolve?: boolean };
  limits: MemberLimits;
  reloadMinIntervalMs: number;
}

/** The configuration file after validation, before normalization. */
export interface ConfigFile {
  etcd: EtcdEntry;
  self?: SelfEntry;
  clusters: ClusterEntry[];
  status?: { prefix: string; ttl: number } | false;
}
