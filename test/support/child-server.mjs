// @ts-check
// A real server process for `cluster-control run` tests, driven by environment variables:
//   HOST, PORT            serve HTTP 200 "ok" there, after READY_DELAY_MS (default 0; -1 = never)
//   LOG                   append one JSON line per event: {t, event, signal?, keyPresent?}
//   ETCD, KEY             at each signal, record whether KEY exists in etcd right then
//   STOP_SIGNAL           the signal that makes it exit (default SIGTERM), with EXIT_CODE_ON_STOP (default 0)
//   EXIT_AFTER_MS, EXIT_CODE   exit by itself
//   IGNORE_STOP=1         ignore the stop signal (to test the SIGKILL after the grace period)
//   WORKER=1              fork a worker process (`sleep`) that would outlive a SIGKILL of this one alone
import { execFileSync, spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { createServer } from 'node:http';

const env = process.env;
/** @param {string} event @param {Record<string, unknown>} [extra] */
const log = (event, extra = {}) => env.LOG && appendFileSync(env.LOG, JSON.stringify({ t: Date.now(), pid: process.pid, event, ...extra }) + '\n');

function keyPresent() {
  if (!env.ETCD || !env.KEY) return undefined;
  const out = execFileSync('/usr/bin/etcdctl', [`--endpoints=${env.ETCD}`, 'get', env.KEY, '--keys-only'], { env: { ...env, ETCDCTL_API: '3' } });
  return out.toString().trim().length > 0;
}

const stopSignal = env.STOP_SIGNAL ?? 'SIGTERM';
/** @type {import('node:http').Server | undefined} */
let server;
for (const signal of ['SIGHUP', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH', 'SIGQUIT', 'SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    log('signal', { signal, keyPresent: keyPresent() });
    if (signal === stopSignal && env.IGNORE_STOP !== '1') {
      server?.close();
      process.exit(Number(env.EXIT_CODE_ON_STOP ?? 0));
    }
  });
}

const delay = Number(env.READY_DELAY_MS ?? 0);
if (delay >= 0) {
  setTimeout(() => {
    server = createServer((req, res) => res.end('ok\n')).listen(Number(env.PORT), env.HOST ?? '127.0.0.1', () => log('listening', { keyPresent: keyPresent() }));
  }, delay);
}
if (env.EXIT_AFTER_MS) setTimeout(() => (log('exiting'), process.exit(Number(env.EXIT_CODE ?? 0))), Number(env.EXIT_AFTER_MS));
setInterval(() => {}, 1 << 30); // stay alive until told otherwise
if (env.WORKER === '1') {
  const worker = spawn('sleep', ['300'], { stdio: 'ignore' });
  log('worker', { workerPid: worker.pid });
}
log('started');
