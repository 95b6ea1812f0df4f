// @ts-check
// A private etcd for one benchmark: free loopback ports, a temporary data dir, removed at cleanup.

import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { stopProcess, trackDir, trackProcess } from './resources.mjs';
import { tryExec } from './system.mjs';

export const ETCD_BIN = process.env.ETCD_BIN ?? '/usr/bin/etcd';
export const ETCDCTL_BIN = process.env.ETCDCTL_BIN ?? '/usr/bin/etcdctl';

export async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
      server.close(() => resolve(port));
    });
  });
}

export function etcdVersion() {
  return (
    tryExec(ETCD_BIN, ['--version'])
      .split('\n')[0]
      ?.replace(/^etcd Version:\s*/, '') || 'unknown'
  );
}

/**
 * Starts etcd and waits until /health says so. Returns { endpoint, dataDir, pid, stop }.
 * `extraArgs` go to etcd as they are (e.g. ['--quota-backend-bytes', String(8 * 2 ** 30)]).
 * @param {{ extraArgs?: string[]; progress?: (line: string) => void }} [options]
 */
export async function startEtcd({ extraArgs = [], progress = () => {} } = {}) {
  const dataDir = trackDir(await mkdtemp(join(os.tmpdir(), 'cc-bench-etcd-')));
  // A free port can be taken between probing and etcd binding it: try a few times.
  for (let attempt = 1; ; attempt++) {
    const clientPort = await freePort();
    const peerPort = await freePort();
    const endpoint = `http://127.0.0.1:${clientPort}`;
    const peer = `http://127.0.0.1:${peerPort}`;
    let output = '';
    const child = trackProcess(
      spawn(
        ETCD_BIN,
        [
          '--name',
          'bench',
          '--data-dir',
          dataDir,
          '--listen-client-urls',
          endpoint,
          '--advertise-client-urls',
          endpoint,
          '--listen-peer-urls',
          peer,
          '--initial-advertise-peer-urls',
          peer,
          '--initial-cluster',
          `bench=${peer}`,
          '--logger',
          'zap',
          '--log-level',
          'error',
          ...extraArgs,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ETCD_UNSUPPORTED_ARCH: process.arch === 'x64' ? '' : process.arch } },
      ),
    );
    child.stdout.on('data', (d) => (output = (output + d).slice(-4000)));
    child.stderr.on('data', (d) => (output = (output + d).slice(-4000)));
    const spawnError = new Promise((resolve) => child.once('error', resolve));
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const err = await Promise.race([spawnError, new Promise((r) => setTimeout(r, 100, undefined))]);
      if (err) throw new Error(`could not start ${ETCD_BIN}: ${err.message} (install Debian's etcd-server, or set ETCD_BIN)`);
      if (child.exitCode !== null) break;
      try {
        const res = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(1_000) });
        if (res.ok && /** @type {{ health?: string }} */ (await res.json()).health === 'true') {
          return { endpoint, dataDir, pid: child.pid, stop: () => stopProcess(child) };
        }
      } catch {
        // not up yet
      }
    }
    await stopProcess(child);
    if (attempt >= 3 || !/address already in use/.test(output)) {
      throw new Error(`etcd did not become healthy (attempt ${attempt}): ${output.trim().slice(-2000)}`);
    }
    progress(`etcd port taken, retrying (${output.trim().split('\n').pop()})`);
    await rm(dataDir, { recursive: true, force: true });
    mkdirSync(dataDir, { recursive: true });
  }
}
