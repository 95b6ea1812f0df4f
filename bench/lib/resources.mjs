// @ts-check
// Everything a benchmark starts (processes, temp dirs, clients) is registered here and released
// once: on success, on error, and on SIGINT/SIGTERM; a synchronous last resort runs on 'exit'.

import { rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';

const processes = new Set();
const dirs = [];
const closers = [];
let cleaning;
export let interrupted = false;

/** A child process to stop (SIGTERM, then SIGKILL after 3 s) at cleanup. */
export function trackProcess(child) {
  processes.add(child);
  child.once('exit', () => processes.delete(child));
  return child;
}

/** A directory removed at cleanup. */
export function trackDir(dir) {
  dirs.push(dir);
  return dir;
}

/** A function run at cleanup, latest first (so a watcher stops before its connection closes). */
export function onCleanup(close) {
  closers.push(close);
}

export async function stopProcess(child, timeoutMs = 3_000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(timer);
}

export function cleanup() {
  cleaning ??= (async () => {
    for (const close of closers.splice(0).reverse()) {
      try {
        await withTimeout(Promise.resolve().then(close), 3_000, 'close');
      } catch {
        // best effort
      }
    }
    await Promise.all([...processes].map((child) => stopProcess(child)));
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true }).catch(() => {});
  })();
  return cleaning;
}

/** Runs `main` with cleanup on every path; exits 1 on error, 130/143 on a signal. */
export async function runMain(main, name = 'bench') {
  process.on('exit', () => {
    for (const child of processes) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
  for (const [signal, code] of /** @type {const} */ ([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ])) {
    process.on(signal, () => {
      if (interrupted) return;
      interrupted = true;
      process.stderr.write(`${name}: ${signal}, cleaning up\n`);
      cleanup().finally(() => process.exit(code));
    });
  }
  let exitCode = 0;
  try {
    await main();
  } catch (err) {
    // After SIGINT/SIGTERM the clients are closed under the running loop: that error is expected.
    if (!interrupted) {
      process.stderr.write(`${name}: failed: ${/** @type {Error | undefined} */ (err)?.stack ?? err}\n`);
      exitCode = 1;
    }
  } finally {
    await cleanup();
  }
  if (!interrupted) process.exit(exitCode); // else the signal handler exits with 130/143
}

export function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([promise, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

/**
 * @template [T=void]
 * @returns {{ promise: Promise<T>; resolve: (value: T) => void; reject: (reason?: unknown) => void }}
 */
export function deferred() {
  /** @type {(value: T) => void} */
  let resolve;
  /** @type {(reason?: unknown) => void} */
  let reject;
  const promise = new Promise((res, rej) => ((resolve = res), (reject = rej)));
  promise.catch(() => {}); // observed by whoever awaits it
  return { promise, resolve, reject };
}
