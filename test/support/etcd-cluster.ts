import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ETCD_BIN, ETCDCTL_BIN, freePort } from './etcd-server.js';

const run = promisify(execFile);

/*
 * A real multi-member etcd cluster on loopback for the fault suite: every member on its own
 * 127.0.0.x address (so a process's connections show which member they go to), its own data dir,
 * short heartbeat/election timings so a lost leader is replaced within about a second.
 */

export interface EtcdMember {
  readonly name: string;
  /** `http://127.0.0.x:port` */
  readonly endpoint: string;
  readonly host: string;
  readonly clientPort: number;
  /** The running process's pid (undefined while stopped). */
  readonly pid: number | undefined;
  /** Whether the process is running (frozen counts as running). */
  readonly running: boolean;
  /** Stops with SIGTERM (or the given signal, e.g. SIGKILL) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts again on the same addresses and data (rejoins the cluster); resolves once healthy. */
  start(): Promise<void>;
  /** Sends a signal without waiting (SIGSTOP freezes the member: sockets open, no answers). */
  signal(signal: NodeJS.Signals): void;
  /** etcdctl against this member only; resolves to stdout. */
  ctl(...args: string[]): Promise<string>;
  /** Whether `/health` says true (the member is up and has a leader). */
  healthy(timeoutMs?: number): Promise<boolean>;
  /** The member's Prometheus metrics text. */
  metrics(timeoutMs?: number): Promise<string>;
  /** The last of the process's output (for failure messages). */
  output(): string;
}

export interface EtcdCluster {
  readonly members: EtcdMember[];
  /** Every member's client URL, in member order. */
  readonly endpoints: string[];
  /** The member that is leader now, asking every reachable member (`etcdctl endpoint status`). */
  leader(): Promise<EtcdMember>;
  /** Hands the leadership to `member` (`etcdctl move-leader`) and waits until it leads. */
  moveLeader(member: EtcdMember): Promise<void>;
  /** Waits until every running member is healthy and they agree on one leader. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** Kills every member and deletes the data dirs. */
  dispose(): Promise<void>;
}

export interface StartEtcdClusterOptions {
  /** Raft heartbeat interval in ms (default 100). */
  heartbeatMs?: number;
  /** Raft election timeout in ms (default 500). */
  electionMs?: number;
  extraArgs?: string[];
}

/** Distinct loopback addresses work on Linux; elsewhere everything shares 127.0.0.1. */
function memberHost(i: number): string {
  return process.platform === 'linux' ? `127.0.0.${11 + i}` : '127.0.0.1';
}

export async function startEtcdCluster(n = 3, options: StartEtcdClusterOptions = {}): Promise<EtcdCluster> {
  if (!existsSync(ETCD_BIN)) throw new Error(`etcd not found at ${ETCD_BIN}: install Debian's etcd-server (scripts/bootstrap.sh --servers)`);
  const token = `cc-fault-${process.pid}-${Date.now()}`;
  const specs: { name: string; host: string; clientPort: number; peerPort: number; dataDir: string }[] = [];
  for (let i = 0; i < n; i++) {
    const host = memberHost(i);
    specs.push({ name: `m${i}`, host, clientPort: await freePort(host), peerPort: await freePort(host), dataDir: await mkdtemp(join(tmpdir(), `cc-etcd-${i}-`)) });
  }
  const initialCluster = specs.map((s) => `${s.name}=http://${s.host}:${s.peerPort}`).join(',');

  const members = specs.map((spec): EtcdMember & { kill(): Promise<void>; launch(): void; dataDir: string } => {
    const endpoint = `http://${spec.host}:${spec.clientPort}`;
    let child: ChildProcess | undefined;
    let output = '';
    const alive = () => child !== undefined && child.exitCode === null && child.signalCode === null;
    const healthy = async (timeoutMs = 1000) => {
      try {
        const res = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(timeoutMs) });
        return res.ok && ((await res.json()) as { health?: string }).health === 'true';
      } catch {
        return false;
      }
    };
    const launch = () => {
      output = '';
      child = spawn(
        ETCD_BIN,
        [
          '--name',
          spec.name,
          '--data-dir',
          spec.dataDir,
          '--listen-client-urls',
          endpoint,
          '--advertise-client-urls',
          endpoint,
          '--listen-peer-urls',
          `http://${spec.host}:${spec.peerPort}`,
          '--initial-advertise-peer-urls',
          `http://${spec.host}:${spec.peerPort}`,
          '--initial-cluster',
          initialCluster,
          '--initial-cluster-state',
          'new',
          '--initial-cluster-token',
          token,
          '--heartbeat-interval',
          String(options.heartbeatMs ?? 100),
          '--election-timeout',
          String(options.electionMs ?? 500),
          '--log-level',
          process.env.CC_ETCD_LOG_LEVEL ?? 'error',
          ...(options.extraArgs ?? []),
        ],
        { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ETCD_UNSUPPORTED_ARCH: process.arch === 'x64' ? '' : process.arch } },
      );
      child.stdout!.on('data', (d) => (output = (output + d).slice(-200_000)));
      child.stderr!.on('data', (d) => (output = (output + d).slice(-200_000)));
    };
    const waitUp = async (timeoutMs = 30_000) => {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (!alive()) throw new Error(`etcd member ${spec.name} exited (${child?.exitCode ?? child?.signalCode}): ${output.slice(-2000)}`);
        if (await healthy()) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`etcd member ${spec.name} did not become healthy within ${timeoutMs} ms: ${output.slice(-2000)}`);
    };
    const kill = async (signal: NodeJS.Signals = 'SIGTERM') => {
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGCONT'); // a frozen etcd cannot act on SIGTERM
      c.kill(signal);
      await exited;
    };
    return {
      name: spec.name,
      endpoint,
      host: spec.host,
      clientPort: spec.clientPort,
      dataDir: spec.dataDir,
      get pid() {
        return alive() ? child!.pid : undefined;
      },
      get running() {
        return alive();
      },
      stop: kill,
      kill: () => kill('SIGKILL'),
      launch,
      async start() {
        if (alive()) return;
        launch();
        await waitUp();
      },
      signal: (sig) => void (alive() && child!.kill(sig)),
      async ctl(...args: string[]) {
        const { stdout } = await run(ETCDCTL_BIN, [`--endpoints=${endpoint}`, ...args], { env: { ...process.env, ETCDCTL_API: '3' } });
        return stdout;
      },
      healthy,
      output: () => output,
      async metrics(timeoutMs = 2000) {
        const res = await fetch(`${endpoint}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
        return res.text();
      },
    };
  });

  const status = async (m: EtcdMember): Promise<{ memberId: string; leader: string } | undefined> => {
    if (!m.running) return undefined;
    try {
      const out = await m.ctl('endpoint', 'status', '-w', 'json', '--dial-timeout=1s', '--command-timeout=1s');
      // Member ids are uint64: quote them before JSON.parse rounds them.
      const parsed = JSON.parse(out.replace(/:\s*(\d{15,})/g, ':"$1"')) as { Status: { header: { member_id: string }; leader: string } }[];
      const s = parsed[0]?.Status;
      return s ? { memberId: String(s.header.member_id), leader: String(s.leader) } : undefined;
    } catch {
      return undefined; // down, frozen or without a leader
    }
  };

  const cluster: EtcdCluster = {
    members,
    endpoints: members.map((m) => m.endpoint),
    async leader() {
      const statuses = await Promise.all(members.map(status));
      for (let i = 0; i < members.length; i++) {
        const s = statuses[i];
        if (s && s.leader !== '0' && s.memberId === s.leader) return members[i]!;
      }
      throw new Error(`no leader among ${members.map((m) => m.name).join(', ')}: ${JSON.stringify(statuses)}`);
    },
    async moveLeader(member) {
      const leader = await cluster.leader();
      if (leader === member) return;
      const id = (await status(member))?.memberId;
      if (!id) throw new Error(`no status from ${member.name}`);
      await leader.ctl('move-leader', BigInt(id).toString(16));
      const deadline = Date.now() + 10_000;
      while ((await cluster.leader().catch(() => undefined)) !== member) {
        if (Date.now() > deadline) throw new Error(`${member.name} did not become leader`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async waitHealthy(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const running = members.filter((m) => m.running);
        const statuses = await Promise.all(running.map(status));
        const leaders = new Set(statuses.map((s) => s?.leader));
        const healthy = await Promise.all(running.map((m) => m.healthy()));
        if (healthy.every(Boolean) && statuses.every((s) => s && s.leader !== '0') && leaders.size === 1) return;
        if (Date.now() > deadline) throw new Error(`etcd cluster not healthy within ${timeoutMs} ms: ${JSON.stringify({ healthy, statuses })}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async dispose() {
      await Promise.all(members.map((m) => m.kill()));
      await Promise.all(members.map((m) => rm(m.dataDir, { recursive: true, force: true })));
    },
  };

  try {
    // All members at once: each waits for the others to form the initial cluster.
    for (const m of members) m.launch();
    await cluster.waitHealthy();
  } catch (err) {
    await cluster.dispose();
    throw err;
  }
  return cluster;
}

/** The `host:port`s a process has established TCP connections to (from /proc: Linux only). */
export async function tcpPeers(pid: number): Promise<string[]> {
  const inodes = new Set<string>();
  for (const fd of await readdir(`/proc/${pid}/fd`).catch(() => [] as string[])) {
    const link = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    const m = /^socket:\[(\d+)\]$/.exec(link);
    if (m) inodes.add(m[1]!);
  }
  const peers: string[] = [];
  const table = await readFile(`/proc/${pid}/net/tcp`, 'utf8').catch(() => '');
  for (const line of table.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
    if (cols.length < 10 || cols[3] !== '01' || !inodes.has(cols[9]!)) continue; // 01 = ESTABLISHED
    const [hexIp, hexPort] = cols[2]!.split(':') as [string, string];
    const ip = [3, 2, 1, 0].map((b) => parseInt(hexIp.slice(b * 2, b * 2 + 2), 16)).join('.');
    peers.push(`${ip}:${parseInt(hexPort, 16)}`);
  }
  return peers;
}

/** The members a process is connected to (client connections only). */
export async function connectedMembers(cluster: EtcdCluster, pid: number): Promise<EtcdMember[]> {
  const peers = new Set(await tcpPeers(pid));
  return cluster.members.filter((m) => peers.has(`${m.host}:${m.clientPort}`));
}

export interface TcpConnection {
  /** `host:port` of the other end. */
  peer: string;
  bytesReceived: number;
}

/** A process's established TCP connections with their received byte counts (`ss -tnpi`, Linux). */
export async function tcpConnections(pid: number): Promise<TcpConnection[]> {
  const { stdout } = await run('ss', ['-tnpiH', 'state', 'established']).catch((err: unknown) => {
    throw new Error(`ss (Debian's iproute2) is needed to tell a process's TCP connections apart: ${String(err)}`);
  });
  const out: TcpConnection[] = [];
  const lines = stdout.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (!line.includes(`pid=${pid},`)) continue;
    // Recv-Q Send-Q Local:Port Peer:Port users:((...)) ; the tcp_info follows on the next line.
    const cols = line.trim().split(/\s+/);
    const peer = cols[3];
    const info = lines[i + 1] ?? '';
    const received = /bytes_received:(\d+)/.exec(info);
    if (peer) out.push({ peer, bytesReceived: received ? Number(received[1]) : 0 });
  }
  return out;
}

/**
 * The member whose connection carries a watcher's watch stream. A process connected to a single
 * member watches there (/proc alone tells). With several connections: under churn the watch
 * receives events all the time while connections used for reads only sit idle, so it is the
 * member connection whose received bytes grow the most over `sampleMs` (`ss` from iproute2).
 */
export async function watchStreamMember(cluster: EtcdCluster, pid: number, sampleMs = 1000): Promise<EtcdMember> {
  const connected = await connectedMembers(cluster, pid);
  if (connected.length === 1) return connected[0]!;
  const memberOf = (peer: string) => cluster.members.find((m) => `${m.host}:${m.clientPort}` === peer);
  const before = new Map((await tcpConnections(pid)).map((c) => [c.peer, c.bytesReceived]));
  await new Promise((r) => setTimeout(r, sampleMs));
  const grown = (await tcpConnections(pid))
    .filter((c) => memberOf(c.peer))
    .map((c) => ({ member: memberOf(c.peer)!, growth: c.bytesReceived - (before.get(c.peer) ?? 0) }))
    .sort((a, b) => b.growth - a.growth);
  const top = grown[0];
  if (!top || top.growth <= 0) throw new Error(`process ${pid} received nothing from any etcd member in ${sampleMs} ms: ${JSON.stringify(grown.map((g) => [g.member.name, g.growth]))}`);
  return top.member;
}
