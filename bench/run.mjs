#!/usr/bin/env node
// @ts-check
// `pnpm bench`: every benchmark suite, one after the other, each in its own process with its own
// etcd (so one suite's keys, memory and patched fs functions never reach the next). Prints each
// suite's tables as it goes, then the targets; writes bench/results/latest.json (all results) and
// bench/results/latency.svg (the latency distributions). See bench/README.md.
//
//   node bench/run.mjs [--only latency,bursts,scale,cold-start,fleet] [--out-dir DIR]

import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { renderChart } from './lib/chart.mjs';
import { etcdVersion } from './lib/etcd.mjs';
import { writeResult } from './lib/results.mjs';
import { machine } from './lib/system.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const SUITES = ['latency', 'bursts', 'scale', 'cold-start', 'fleet'];

const { values: opts } = parseArgs({
  options: {
    only: { type: 'string' },
    'out-dir': { type: 'string', default: join(HERE, 'results') },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (opts.help) {
  process.stdout.write(`usage: node bench/run.mjs [--only ${SUITES.join(',')}] [--out-dir DIR]
  runs the suites in order; each also runs alone: node bench/suites/<suite>.mjs --help
  writes DIR/latest.json and DIR/latency.svg (default DIR: bench/results)
`);
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

const startedAt = new Date();
const dir = await mkdtemp(join(os.tmpdir(), 'cc-bench-run-'));
let failed = false;
const reports = [];
try {
  for (const name of selected) {
    process.stderr.write(`\nbench: ---- ${name} ----\n`);
    try {
      reports.push(await runSuite(name, dir));
    } catch (err) {
      process.stderr.write(`bench: ${/** @type {Error} */ (err).message}\n`);
      failed = true;
    }
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}

const targets = reports.flatMap((r) => r.targets.map((t) => ({ suite: r.name, ...t })));
const lines = ['', `targets (${targets.filter((t) => t.pass).length} of ${targets.length} met; reported, not asserted):`];
for (const t of targets) lines.push(`${t.pass ? 'PASS' : 'MISS'}  ${`${t.suite}: ${t.target}`.padEnd(58)} ${t.value}`);
process.stdout.write(lines.join('\n') + '\n');

if (reports.length > 0) {
  const latest = {
    date: startedAt.toISOString(),
    machine: machine(),
    etcd: etcdVersion(),
    command: `node bench/run.mjs${opts.only ? ` --only ${opts.only}` : ''}`,
    targets,
    suites: Object.fromEntries(reports.map((r) => [r.name, { title: r.title, result: r.result, text: r.lines }])),
  };
  const jsonPath = join(opts['out-dir'], 'latest.json');
  writeResult(jsonPath, latest);
  const svgPath = join(opts['out-dir'], 'latency.svg');
  writeFileSync(svgPath, renderChart(latest));
  process.stderr.write(`bench: wrote ${jsonPath} and ${svgPath}\n`);
}
process.exitCode = failed ? 1 : 0;
