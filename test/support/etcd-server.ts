import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { haveServer } from './server-process.js';

const run = promisify(execFile);

export const ETCD_BIN = process.env.ETCD_BIN ?? '/usr/bin/etcd';
export const ETCDCTL_BIN = process.env.ETCDCTL_BIN ?? '/usr/bin/etcdctl';

/** Whether integration tests that need etcd should run (see haveServer). */
export const haveEtcd = haveServer(ETCD_BIN);

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export interface EtcdServer {
  readonly endpoint: string;
  readonly dataDir: string;
  /** etcdctl against this server; resolves to stdout. */
  ctl(...args: string[]): Promise<string>;
  /** Sends a signal without waiting (SIGSTOP freezes etcd: sockets open, no answers). */
  signal(signal: NodeJS.Signals): void;
  /** Stops with SIGTERM (or the given signal) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts again on the same ports and data. */
  start(): Promise<void>;
  /** Current store revision. */
  revision(): Promise<bigint>;
  /** Stops and deletes the data dir. */
  dispose(): Promise<void>;
}

export interface StartEtcdOptions {
  extraArgs?: string[];
  host?: string;
  /** Serve clients over TLS (https:// endpoint) and require client certificates signed by `ca`. */
  tls?: EtcdTlsOptions;
}

/** PEM file paths for a TLS etcd. */
export interface EtcdTlsOptions {
  /** etcd's own certificate and key. */
  cert: string;
  key: string;
  /** The CA etcd trusts for client certificates; etcdctl and the health check verify etcd with it too. */
  ca: string;
  /** The client certificate and key etcdctl and the health check present. */
  clientCert: string;
  clientKey: string;
}

export async function startEtcd(options: StartEtcdOptions = {}): Promise<EtcdServer> {
  if (!existsSync(ETCD_BIN)) throw new Error(`etcd not found at ${ETCD_BIN}: install Debian's etcd-server (scripts/bootstrap.sh --servers)`);
  const host = options.host ?? '127.0.0.1';
  const dataDir = await mkdtemp(join(tmpdir(), 'cc-etcd-'));
  const tls = options.tls;
  // Free when asked, but another process may take a port before etcd binds it: then new ports (below).
  let peerPort = 0;
  let endpoint = '';
  const pickPorts = async () => {
    endpoint = `${tls ? 'https' : 'http'}://${host}:${await freePort(host)}`;
    peerPort = await freePort(host);
  };
  await pickPorts();
  const ctlTls = tls ? [`--cacert=${tls.ca}`, `--cert=${tls.clientCert}`, `--key=${tls.clientKey}`] : [];
  const tlsArgs = tls ? ['--cert-file', tls.cert, '--key-file', tls.key, '--client-cert-auth', '--trusted-ca-file', tls.ca] : [];
  let child: ChildProcess | undefined;
  let output = '';

  const ctl = async (...args: string[]) => {
    const { stdout } = await run(ETCDCTL_BIN, [`--endpoints=${endpoint}`, ...ctlTls, ...args], { env: { ...process.env, ETCDCTL_API: '3' } });
    return stdout;
  };

  const start = async () => {
    output = '';
    child = spawn(
      ETCD_BIN,
      [
        '--name',
        'test',
        '--data-dir',
        dataDir,
        '--listen-client-urls',
        endpoint,
        '--advertise-client-urls',
        endpoint,
        '--listen-peer-urls',
        `http://${host}:${peerPort}`,
        '--initial-advertise-peer-urls',
        `http://${host}:${peerPort}`,
        '--initial-cluster',
        `test=http://${host}:${peerPort}`,
        '--log-level',
        'error',
        ...tlsArgs,
        ...(options.extraArgs ?? []),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ETCD_UNSUPPORTED_ARCH: process.arch === 'x64' ? '' : process.arch } },
    );
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`etcd exited with ${child.exitCode}: ${output.slice(-2000)}`);
      try {
        if (await healthy()) return;
      } catch {
        // not up yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`etcd did not become healthy within 20 s: ${output.slice(-2000)}`);
  };

  const healthy = async (): Promise<boolean> => {
    if (!tls) {
      const res = await fetch(`${endpoint}/health`);
      return res.ok && ((await res.json()) as { health?: string }).health === 'true';
    }
    const secure = { ca: readFileSync(tls.ca), cert: readFileSync(tls.clientCert), key: readFileSync(tls.clientKey), timeout: 2000 };
    return new Promise<boolean>((resolve) => {
      const req = httpsGet(`${endpoint}/health`, secure, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve(res.statusCode === 200 && (JSON.parse(body) as { health?: string }).health === 'true'));
        res.on('error', () => resolve(false));
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(false));
    });
  };

  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill(signal);
    await exited;
  };

  for (let attempt = 1; ; attempt++) {
    try {
      await start();
      break;
    } catch (err) {
      if (attempt >= 3 || !/address already in use/.test(output)) throw err;
      await rm(join(dataDir, 'member'), { recursive: true, force: true });
      await pickPorts();
    }
  }
  return {
    endpoint,
    dataDir,
    ctl,
    signal: (sig) => void child?.kill(sig),
    stop: async (sig) => {
      child?.kill('SIGCONT'); // a frozen etcd cannot act on SIGTERM
      await stop(sig);
    },
    start,
    async revision() {
      const out = await ctl('get', '/', '--prefix', '--keys-only', '--limit=1', '-w', 'json');
      return BigInt((JSON.parse(out) as { header: { revision: number | string } }).header.revision);
    },
    async dispose() {
      await stop('SIGKILL');
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
