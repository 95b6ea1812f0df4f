// @ts-check
// Cold start of the one-shot commands: how long do `cluster-control prepare`, `members`,
// `removekey`, `heartbeat --once`, `render`, `check-config`, `--help` and `--version` take from
// exec to exit, next to `node -e 0` (the least any Node program costs) and `etcdctl get` (etcd's
// own Go client) in the same run? Target: each p50 <= node -e 0 p50 + 25 ms.
//
// Also measured, for comparison: the single executable (`pnpm build:exe`; its size too) and the
// same CLI code unbundled (dist/index.js through the ESM loader: how the CLI ran before it was
// bundled), with the JavaScript files each loads.
//
// Each command runs `runs` times, round-robin (node, etcdctl, prepare, ..., node, ...) so machine
// noise hits all alike; the first round is a warm-up (page cache) and not counted. Then each
// cluster-control command runs once more under --cpu-prof, and its samples are added up by where
// the code lives, and the files it loads are counted, to show where the time goes.
//
//   node bench/suites/cold-start.mjs [--runs 15] [--out FILE]

import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

import { ETCDCTL_BIN, etcdVersion, startEtcd } from '../lib/etcd.mjs';
import { countModules, profileNode } from '../lib/profile.mjs';
import { runMain, trackDir } from '../lib/resources.mjs';
import { writeResult } from '../lib/results.mjs';
import { r3, roundAll, summarize, table } from '../lib/stats.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const CLI = join(HERE, '..', '..', 'packages', 'cli', 'bin.cjs');
const EXE = join(HERE, '..', '..', 'packages', 'cli', 'dist', 'exe', 'cluster-control');
/** The CLI's code unbundled, through the ESM loader: how it ran before the bundle. */
const UNBUNDLED = join(HERE, '..', 'lib', 'unbundled-cli.mjs');
/** A one-shot command may start within this much of `node -e 0` (p50). */
const BUDGET_MS = 25;

/** Runs `command` to completion; resolves to its wall time in ms. A failure is an error: a fast failure is no result. */
function timed(label, file, args, env) {
  const start = performance.now();
  const result = spawnSync(file, args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const elapsed = performance.now() - start;
  if (result.error) throw new Error(`${label}: could not run ${file}: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`${label}: exit ${result.status ?? result.signal}: ${(result.stderr || result.stdout).trim().slice(-500)}`);
  return elapsed;
}

export async function run(options = {}) {
  const runs = options.runs ?? 15;
  const progress = options.progress ?? (() => {});
  progress('starting etcd');
  const { endpoint } = await startEtcd({ progress });
  const dir = trackDir(await mkdtemp(join(os.tmpdir(), 'cc-bench-cold-')));
  const conf = join(dir, 'cluster-control.json');
  await writeFile(
    conf,
    JSON.stringify({
      etcd: { endpoints: [endpoint] },
      self: { key: '/bench/cold/web/10.0.0.5:80', ttl: 30 },
      clusters: [{ name: 'web', path: '/bench/cold/web', handler: 'json', handlerConfig: join(dir, 'web.json') }],
    }),
  );
  const env = { ...process.env, ETCDCTL_API: '3' };
  const cli = (/** @type {string[]} */ ...args) => ({ label: `cluster-control ${args.join(' ')}`, ours: true, file: process.execPath, args: [CLI, '--conf', conf, ...args] });
  const haveExe = existsSync(EXE);
  const commands = [
    { label: 'node -e 0', floor: 'node', file: process.execPath, args: ['-e', '0'] },
    { label: 'etcdctl get', floor: 'etcdctl', file: ETCDCTL_BIN, args: ['--endpoints', endpoint, 'get', '/bench/cold/web/10.0.0.5:80'] },
    // In this order within a round: heartbeat --once registers the key, removekey deletes it again.
    cli('heartbeat', '--once'),
    cli('prepare', 'web'),
    cli('members', 'web'),
    cli('render', 'web'),
    cli('removekey'),
    cli('check-config'),
    cli('--help'),
    cli('--version'),
    // For comparison: the same prepare from the single executable, and from the unbundled code.
    ...(haveExe ? [{ label: 'exe: cluster-control prepare web', exe: true, file: EXE, args: ['--conf', conf, 'prepare', 'web'] }] : []),
    ...(haveExe ? [{ label: 'exe: cluster-control --version', exe: true, file: EXE, args: ['--version'] }] : []),
    { label: 'unbundled: cluster-control prepare web', reference: true, file: process.execPath, args: [UNBUNDLED, '--conf', conf, 'prepare', 'web'] },
  ];
  if (!haveExe) progress(`no single executable at ${EXE} (pnpm build:exe): not measured`);

  const times = new Map(commands.map((c) => [c.label, []]));
  progress(`${runs} runs of ${commands.length} commands, round-robin (+1 warm-up round)`);
  for (let round = 0; round <= runs; round++) {
    for (const c of commands) {
      const ms = timed(c.label, c.file, c.args, env);
      if (round > 0) times.get(c.label).push(ms);
    }
  }

  const stats = new Map(commands.map((c) => [c.label, summarize(times.get(c.label))]));
  const node = stats.get('node -e 0');
  const etcdctl = stats.get('etcdctl get');
  const rows = commands.map((c) => {
    const s = stats.get(c.label);
    return [c.label, s.p50.toFixed(1), s.p90.toFixed(1), s.min.toFixed(1), (s.p50 / etcdctl.p50).toFixed(2) + 'x', c.floor === 'node' ? '' : (s.p50 - node.p50).toFixed(1)];
  });
  const targets = commands
    .filter((c) => c.ours)
    .map((c) => {
      const s = stats.get(c.label);
      return {
        target: `${c.label.replace('cluster-control ', '')} <= node -e 0 + ${BUDGET_MS} ms`,
        value: `${s.p50.toFixed(1)} vs ${(node.p50 + BUDGET_MS).toFixed(1)} ms (+${(s.p50 - node.p50).toFixed(1)})`,
        pass: s.p50 <= node.p50 + BUDGET_MS,
      };
    });

  progress('profiling each cluster-control command once (--cpu-prof) and counting the files it loads');
  const profiled = commands.filter((c) => c.ours || c.reference);
  const profiles = profiled.map((c) => ({ command: c.label, ...profileNode(c.args, { env }), modules: countModules(c.args, { env }) }));
  const exe = haveExe ? { path: 'packages/cli/dist/exe/cluster-control', bytes: statSync(EXE).size } : undefined;

  const lines = [
    '',
    `cold start, ${runs} runs each, round-robin; wall time from exec to exit, ms`,
    table(['command', 'p50', 'p90', 'min', 'p50 / etcdctl', 'p50 - node'], rows),
    '',
    ...targets.map((t) => `${t.pass ? 'PASS' : 'MISS'}  ${t.target.padEnd(44)} (${t.value})`),
    `      floor of any Node program: node -e 0 = ${(node.p50 / etcdctl.p50).toFixed(2)} x etcdctl get`,
    exe ? `      single executable: ${(exe.bytes / 2 ** 20).toFixed(1)} MiB (${exe.path})` : '      single executable: not built (pnpm build:exe)',
    '',
    'where the time goes (one --cpu-prof run each; self time by where the code lives, ms; JavaScript files loaded):',
    ...profiles.flatMap((p) => [
      `  ${p.command}: ${p.totalMs.toFixed(1)} ms profiled; ${p.modules.reduce((n, m) => n + m.modules, 0)} files loaded (${p.modules.map((m) => `${m.group} ${m.modules}`).join(', ')})`,
      ...p.groups
        .filter((g) => g.ms >= 1)
        .slice(0, 8)
        .map((g) => `    ${g.group.padEnd(52)} ${g.ms.toFixed(1).padStart(6)}`),
    ]),
    '',
    `etcd ${etcdVersion()}, ${ETCDCTL_BIN}, node ${process.version}`,
    '',
  ];
  const result = {
    benchmark: 'cold-start',
    date: new Date().toISOString(),
    runs,
    unit: 'ms',
    commands: commands.map((c) => ({ command: c.label, args: c.args.map((a) => (a === conf ? '<conf>' : a)), ...roundAll(stats.get(c.label)) })),
    ratioToEtcdctl: Object.fromEntries(commands.map((c) => [c.label, r3(stats.get(c.label).p50 / etcdctl.p50)])),
    budgetMs: BUDGET_MS,
    exe,
    targets,
    profiles: profiles.map((p) => ({ command: p.command, totalMs: r3(p.totalMs), groups: p.groups.map((g) => ({ group: g.group, ms: r3(g.ms) })), modules: p.modules })),
    raw: Object.fromEntries([...times].map(([k, v]) => [k, v.map(r3)])),
  };
  return { name: 'cold-start', title: 'cold start of one-shot commands', lines, result, targets };
}

// ---------------------------------------------------------------------------------------------
// Direct run

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values: opts } = parseArgs({ options: { runs: { type: 'string', default: '15' }, out: { type: 'string' }, quiet: { type: 'boolean', default: false } } });
  const runs = Number(opts.runs);
  if (!Number.isInteger(runs) || runs < 1) {
    process.stderr.write(`bench: --runs must be a positive integer, got ${opts.runs}\n`);
    process.exit(2);
  }
  const progress = opts.quiet ? undefined : (m) => process.stderr.write(`bench: ${m}\n`);
  const out = opts.out ?? join(HERE, '..', 'results', 'cold-start.json');
  await runMain(async () => {
    const report = await run({ runs, progress });
    process.stdout.write(report.lines.join('\n') + '\n');
    writeResult(out, report);
    progress?.(`wrote ${out}`);
  });
}
