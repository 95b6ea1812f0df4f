#!/usr/bin/env node
// @ts-check
// `pnpm bench`: every benchmark suite, one after the other, each in its own process with its own
// etcd (so one suite's keys, memory and patched fs functions never reach the next). Prints each
// suite's tables as it goes, then the targets. Each suite's result is merged into
// bench/results/latest.json (suites.<name>, with its date, machine and etcd version) as soon as it
// finishes, keeping the suites this run did not run, and bench/results/latency.svg (the chart) is
// re-rendered from the merged file. See bench/README.md.
//
//   node bench/run.mjs [--only latency,bursts,scale,cold-start,fleet] [--out-dir DIR]
//   node bench/run.mjs --chart-only [--out-dir DIR]   # re-render DIR/latency.svg from DIR/latest.json

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { RESULTS_DIR, SUITES, recordSuite, renderLatestChart } from './lib/results.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));

const { values: opts } = parseArgs({
  options: {
    only: { type: 'string' },
    'out-dir': { type: 'string', default: RESULTS_DIR },
    'chart-only': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (opts.help) {
  process.stdout.write(`usage: node bench/run.mjs [--only ${SUITES.join(',')}] [--out-dir DIR]
       node bench/run.mjs --chart-only [--out-dir DIR]
  runs the suites in order; each also runs alone: node bench/suites/<suite>.mjs --help
  merges each suite's result into DIR/latest.json (suites.<name>; the other suites stay) and
  re-renders DIR/latency.svg from it (default DIR: bench/results)
  --chart-only: only re-render DIR/latency.svg from DIR/latest.json
`);
  process.exit(0);
}
if (opts['chart-only']) {
  process.stderr.write(`bench: wrote ${renderLatestChart(opts['out-dir'])}\n`);
  process.exit(0);
}
const selected = opts.only ? opts.only.split(',').map((s) => s.trim()) : SUITES;
for (const name of selected) {
  if (!SUITES.includes(name)) {
    process.stderr.write(`bench: unknown suite ${JSON.stringify(name)} (suites: ${SUITES.join(', ')})\n`);
    process.exit(2);
  }
}

/** Runs one suite in its own node process; resolves to its report ({ name, title, lines, result, targets }). */
async function runSuite(name, dir) {
  const out = join(dir, `${name}.json`);
  const child = spawn(process.execPath, [join(HERE, 'suites', `${name}.mjs`), '--out', out], { stdio: 'inherit' });
  // Ctrl-C reaches the whole process group: the suite cleans up after itself; we just wait for it.
  const code = await new Promise((resolve) => child.once('exit', (c, signal) => resolve(c ?? (signal ? 128 : 1))));
  if (code !== 0) throw new Error(`suite ${name} failed (exit ${code})`);
  return JSON.parse(readFileSync(out, 'utf8'));
}

const command = `node bench/run.mjs${opts.only ? ` --only ${opts.only}` : ''}`;
const dir = await mkdtemp(join(os.tmpdir(), 'cc-bench-run-'));
let failed = false;
const reports = [];
let written;
try {
  for (const name of selected) {
    process.stderr.write(`\nbench: ---- ${name} ----\n`);
    try {
      const report = await runSuite(name, dir);
      reports.push(report);
      // Merged at once, so a later suite's failure (or Ctrl-C) does not lose this one.
      written = recordSuite(report, { dir: opts['out-dir'], command });
    } catch (err) {
      process.stderr.write(`bench: ${/** @type {Error} */ (err).message}\n`);
      failed = true;
    }
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}

const targets = reports.flatMap((r) => r.targets.map((t) => ({ suite: r.name, ...t })));
const lines = ['', `targets of this run (${targets.filter((t) => t.pass).length} of ${targets.length} met; reported, not asserted):`];
for (const t of targets) lines.push(`${t.pass ? 'PASS' : 'MISS'}  ${`${t.suite}: ${t.target}`.padEnd(58)}  ${t.value}`);
process.stdout.write(lines.join('\n') + '\n');

if (written) {
  const others = Object.keys(written.latest.suites).filter((n) => !reports.some((r) => r.name === n));
  process.stderr.write(
    `bench: merged ${reports.map((r) => r.name).join(', ')} into ${written.jsonPath}${others.length ? ` (kept from earlier runs: ${others.join(', ')})` : ''}; wrote ${written.svgPath}\n`,
  );
}
process.exitCode = failed ? 1 : 0;
