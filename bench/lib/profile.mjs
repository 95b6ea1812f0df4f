// @ts-check
// Where does a short-lived node process spend its time? Runs it under --cpu-prof and adds up the
// samples' self time by where the code lives: a package in node_modules, a workspace package,
// Node's own start-up and module loader, or garbage collection.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));

/**
 * Profiles `node <args>` once (with `env`); resolves to { totalMs, groups: [{ group, ms }] },
 * largest first. Sampling every 100 µs, so groups below ~0.5 ms are noise.
 * @param {string[]} args
 * @param {{ env?: NodeJS.ProcessEnv; cwd?: string }} [options]
 */
export function profileNode(args, { env = process.env, cwd } = {}) {
  const dir = mkdtempSync(join(os.tmpdir(), 'cc-bench-prof-'));
  try {
    try {
      execFileSync(process.execPath, ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-interval', '100', ...args], { env, cwd, stdio: 'ignore' });
    } catch {
      // a non-zero exit still leaves a profile; what matters is where the time went
    }
    const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error(`no profile written for node ${args.join(' ')}`);
    return summarizeProfile(JSON.parse(readFileSync(join(dir, file), 'utf8')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function summarizeProfile(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map();
  // timeDeltas[i] is the time before samples[i]: attribute it to that sample's node.
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const groups = new Map();
  for (const [id, us] of selfUs) {
    const group = groupOf(byId.get(id)?.callFrame);
    groups.set(group, (groups.get(group) ?? 0) + us);
  }
  const totalMs = (profile.endTime - profile.startTime) / 1000;
  return {
    totalMs,
    groups: [...groups].map(([group, us]) => ({ group, ms: us / 1000 })).sort((a, b) => b.ms - a.ms),
  };
}

function groupOf(frame) {
  const name = frame?.functionName ?? '';
  const url = frame?.url ?? '';
  if (name === '(garbage collector)') return 'garbage collection';
  if (name === '(idle)') return 'idle (waiting for I/O: etcd, disk)';
  if (name === '(program)') return 'node native (start-up, compiling, module loading)';
  if (url.startsWith('node:')) return 'node built-in modules (incl. ESM loader)';
  const pkg = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (pkg) return pkg[1];
  const workspace = /\/(packages|apps)\/([^/]+)\//.exec(url);
  if (workspace) return `@cluster-control/${workspace[2]}`;
  return url ? 'other scripts' : 'other native';
}

/**
 * Runs `node <args>` once and counts the modules it loads through the ESM loader (ES modules and
 * the CommonJS modules they import), by package; resolves to [{ group, modules }], most first.
 * With the ESM loader, the cost of start-up grows with the number of files, not their size.
 * @param {string[]} args
 * @param {{ env?: NodeJS.ProcessEnv; cwd?: string }} [options]
 */
export function countModules(args, { env = process.env, cwd } = {}) {
  const dir = mkdtempSync(join(os.tmpdir(), 'cc-bench-mods-'));
  const file = join(dir, 'modules.txt');
  try {
    try {
      execFileSync(process.execPath, ['--import', join(HERE, 'module-count-register.mjs'), ...args], { env: { ...env, CC_BENCH_MODULES_FILE: file }, cwd, stdio: 'ignore' });
    } catch {
      // counted all the same
    }
    const urls = existsSync(file) ? [...new Set(readFileSync(file, 'utf8').split('\n').filter(Boolean))] : [];
    const groups = new Map();
    for (const url of urls) {
      const group = groupOf({ url });
      groups.set(group, (groups.get(group) ?? 0) + 1);
    }
    return [...groups].map(([group, modules]) => ({ group, modules })).sort((a, b) => b.modules - a.modules);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
