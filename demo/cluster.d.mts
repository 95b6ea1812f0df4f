// Types of demo/cluster.mjs (plain JS, so the runner needs no build step).

export declare const ROOT: string;
export declare const ETCD_BIN: string;
export declare const APP_MAIN: { lb: string; web: string; db: string };
export declare const DEFAULT_BOUND_MS: number;
export declare const CLI_BIN: string;
/** The demo's clusters by the name the apps (and the CLI's config) give them → their key directory. */
export declare const CLUSTERS: { webservers: 'webserver'; dbservers: 'dbserver' };

export interface ExitResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
}

/** One started process (an app or etcd); its output is kept for failure messages. */
export interface DemoProcess {
  readonly name: string;
  readonly kind: 'lb' | 'web' | 'db' | 'etcd';
  readonly pid: number | undefined;
  readonly running: boolean;
  readonly stdout: string;
  readonly stderr: string;
  /** From its `ready <url>` line. */
  readonly readyUrl: string | undefined;
  readonly result: ExitResult | undefined;
  /** Until set, an exit is a failure of the cluster. */
  expectExit: boolean;
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<ExitResult>;
  stderrTail(lines?: number): string;
}

/** One of the demo's apps: its number in its tier, its member name and its key in etcd. */
export interface DemoApp extends DemoProcess {
  readonly kind: 'lb' | 'web' | 'db';
  /** Web server n binds 127.0.0.(20+n), database n 127.0.0.(30+n); the lb is 0. */
  readonly n: number;
  /** `HOST:PORT`. */
  readonly memberName: string;
  /** `${prefix}/<kind dir>/HOST:PORT`. */
  readonly key: string;
  /** A database's id (db-n). */
  readonly dbId: string | undefined;
}

export declare class DemoError extends Error {
  /** Processes whose stderr explains the failure. */
  readonly procs: DemoProcess[];
  constructor(message: string, procs?: DemoProcess[]);
}

export declare class Interrupted extends Error {}

export declare function describeExit(result: ExitResult | undefined): string;
export declare function freePort(host?: string): Promise<number>;
export declare function sleep(ms: number): Promise<void>;

export interface DemoClusterOptions {
  /** Registration lease TTL of every app, whole seconds >= 2 (default 5). */
  ttl?: number;
  /** Comma-separated etcd endpoints to use instead of starting one (default: $CLUSTER_CONTROL_ETCD). */
  etcd?: string;
  /** Aborts every wait with Interrupted. */
  signal?: AbortSignal;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

export interface WebServerReport {
  name: string;
  databases: string[];
  error?: string;
  agrees: boolean;
}

export interface LbReport {
  loadBalancer: string;
  generatedAt: string;
  webServers: WebServerReport[];
  databases: string[];
  consistent: boolean;
}

/** GET lb /fleet.json: every live watcher of the demo's clusters, from their status records. */
export interface FleetReport {
  statusPrefix: string;
  clusters: {
    name: string;
    path: string;
    revision: string;
    watchers: { id: string; command: string; pid: number; state: 'SYNCED' | 'BEHIND' | 'ERROR'; reason?: string; appliedRevision: string; members: number; reload: string; hash: string }[];
    mismatches: number;
  }[];
  error?: string;
}

/** What `cluster-control status <cluster> [--wait] --json` did. */
export interface StatusRun {
  code: number | null;
  /** The command's run time, node's start-up included. */
  ms: number;
  watchers: { id: string; state: string; appliedRevision: string; pid: number }[];
  stdout: string;
  stderr: string;
}

export interface ShutdownSummary {
  /** Apps that exited with code 0. */
  exitedZero: number;
  killedOnPurpose: number;
  keysLeft: number;
}

export declare class DemoCluster {
  constructor(options?: DemoClusterOptions);
  /** Starts etcd (unless external), `dbs` databases (default 2), `webs` web servers (default 3) and the lb; cleans up on failure. */
  static start(options?: DemoClusterOptions & { webs?: number; dbs?: number }): Promise<DemoCluster>;

  readonly ttl: number;
  readonly runId: string;
  /** `/clusterdemo-<runid>`: every app registers under `${prefix}/{loadbalancer,webserver,dbserver}/HOST:PORT`. */
  readonly prefix: string;
  readonly endpoints: string[];
  readonly externalEtcd: boolean;
  readonly lb: DemoApp | undefined;
  /** Every app process ever started, in start order. */
  readonly apps: DemoApp[];
  /** Web server number → its process (also the stopped ones). */
  readonly webs: ReadonlyMap<number, DemoApp>;
  /** Database number → its process (also the stopped ones). */
  readonly dbs: ReadonlyMap<number, DemoApp>;
  /** performance.now() of the last membership change. */
  lastChangeAt: number;
  /** The load balancer's page, `http://127.0.0.10:PORT/`. */
  readonly pageUrl: string | undefined;

  /** Running web servers; web n binds 127.0.0.(20+n). */
  liveWebs(): { n: number; name: string; url: string }[];
  /** Running databases; database n binds 127.0.0.(30+n) and has id db-n. */
  liveDbs(): { n: number; id: string; name: string; url: string }[];
  webName(n: number): string | undefined;

  start(counts?: { webs?: number; dbs?: number }): Promise<this>;
  /** Starts the next database (id db-<n>); resolves once it is ready (registered). */
  addDb(): Promise<{ n: number; id: string; name: string }>;
  /** Starts the next web server; resolves once it is ready (registered). */
  addWeb(): Promise<{ n: number; name: string }>;
  /** Deletes web server n's key in etcd; it must exit by itself with code 0. Resolves to the time it took to exit. */
  removeWeb(n: number, options?: { timeoutMs?: number }): Promise<{ name: string; exitMs: number }>;
  /** SIGKILLs web server n: its key stays until its lease expires. */
  killWeb(n: number): Promise<{ name: string }>;
  /** SIGTERMs every web server and database (not the lb); each must exit 0. Resolves to how many of each. */
  stopWebsAndDbs(): Promise<{ webs: number; dbs: number }>;

  /** GET lb /report.json. */
  report(): Promise<LbReport>;
  /** GET lb /report.txt. */
  reportText(): Promise<string>;
  /** Why `report` does not match the live cluster, or undefined when it does. */
  divergence(report: LbReport): string | undefined;
  /**
   * Waits until the LB lists exactly the live web servers, each reporting exactly the live database
   * ids, consistent. `webs`/`dbs`: expected live counts (checked). Bound and result count from
   * `since` (default: the last membership change). Resolves to the ms it took.
   */
  waitConverged(options?: { webs?: number; dbs?: number; timeoutMs?: number; since?: number }): Promise<number>;

  /** The newest revision of any key under `${prefix}/${dir}/` (0n: none). */
  newestRevision(dir: string): Promise<bigint>;
  /** The revision at which `key` was deleted (seen by a watch of the prefix); waits up to `timeoutMs`. */
  deletedAt(key: string, options?: { timeoutMs?: number }): Promise<bigint>;
  /** The built CLI's `status <cluster> --json` (by default with `--wait --timeout 20`). */
  statusWait(cluster: keyof typeof CLUSTERS, options?: { revision?: bigint; expect?: number; timeoutS?: number; wait?: boolean }): Promise<StatusRun>;
  /** GET lb /fleet.json. */
  fleet(): Promise<FleetReport>;

  /** Keys under `${prefix}/`. */
  keys(): Promise<string[]>;
  /** Puts `value` at `${prefix}/${relKey}`. */
  putKey(relKey: string, value: string): Promise<void>;
  /** Deletes `${prefix}/${relKey}`; resolves to the number deleted. */
  deleteKey(relKey: string): Promise<number>;

  /**
   * SIGTERMs everything, stops our etcd, removes temp dirs; with `verify` (default) throws a
   * DemoError unless every app exited 0 (except SIGKILLed ones), no keys and no processes are left.
   */
  shutdown(options?: { verify?: boolean }): Promise<ShutdownSummary>;
}
