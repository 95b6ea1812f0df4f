// @ts-check
// Where results go. Every suite's report ({ name, title, lines, result, targets }) lands in
// bench/results/latest.json under suites.<name>, with the date, command, machine and etcd version
// of the run that measured it; a run of some suites merges them into the file and keeps the others.
// The top-level targets list is recomputed from every suite present, and the chart (latency.svg,
// next to latest.json) is re-rendered from the merged file.

import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { renderChart } from './chart.mjs';
import { etcdVersion } from './etcd.mjs';
import { emptyNodeRss, machine } from './system.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** bench/results: latest.json and latency.svg (committed), anything else local only. */
export const RESULTS_DIR = join(ROOT, 'bench', 'results');
/** The suites, in the order bench/run.mjs runs them and latest.json lists them. */
export const SUITES = ['latency', 'bursts', 'scale', 'cold-start', 'fleet'];

/**
 * Writes a suite's report ({ name, title, lines, result, targets }) as JSON to `path`. When `path`
 * is the suite's default file (bench/results/<name>.json, what a suite run alone writes without
 * --out) and the result is not a diagnostic, the report is also merged into latest.json.
 */
export function writeResult(path, report) {
  writeJson(path, report);
  if (report?.name && report.result && !report.result.diagnostic && resolve(path) === join(RESULTS_DIR, `${report.name}.json`)) {
    const { jsonPath } = recordSuite(report);
    process.stderr.write(`bench: ${report.name}: also merged into ${relative(process.cwd(), jsonPath)} (suites.${report.name})\n`);
  }
}

/** The command line of this process, as a reader would type it from the repository root. */
export function commandLine() {
  const script = process.argv[1] ? relative(ROOT, process.argv[1]) : '';
  return ['node', script, ...process.argv.slice(2)].filter(Boolean).join(' ');
}

/**
 * Merges one suite's report into DIR/latest.json (default bench/results) and re-renders
 * DIR/latency.svg. For the scale suite, the floor of its memory figures (the RSS of an empty node
 * process) is measured now, in the same run, unless the result carries its own
 * (result.floors.nodeEmptyRssBytes). Returns the paths written.
 */
export function recordSuite(report, { dir = RESULTS_DIR, command = commandLine() } = {}) {
  const jsonPath = join(dir, 'latest.json');
  const svgPath = join(dir, 'latency.svg');
  const now = new Date().toISOString();
  const facts = { machine: machine(), etcd: etcdVersion() };
  const entry = {
    title: report.title,
    date: typeof report.result?.date === 'string' ? report.result.date : now,
    command,
    ...facts,
    targets: report.targets ?? [],
    ...(report.name === 'scale' && report.result?.floors?.nodeEmptyRssBytes === undefined ? { floors: scaleFloors() } : {}),
    result: report.result,
    text: report.lines,
  };
  const latest = readLatest(jsonPath);
  const suites = { ...latest.suites, [report.name]: entry };
  const merged = { date: now, command, ...facts, targets: allTargets(suites), suites: ordered(suites) };
  writeJson(jsonPath, merged);
  writeFileSync(svgPath, renderChart(merged));
  return { jsonPath, svgPath, latest: merged };
}

/** Re-renders DIR/latency.svg from DIR/latest.json; returns the svg's path. */
export function renderLatestChart(dir = RESULTS_DIR) {
  const jsonPath = join(dir, 'latest.json');
  if (!existsSync(jsonPath)) throw new Error(`${jsonPath}: no results yet (run node bench/run.mjs)`);
  const svgPath = join(dir, 'latency.svg');
  writeFileSync(svgPath, renderChart(readLatest(jsonPath)));
  return svgPath;
}

/**
 * latest.json, or an empty one. A file written before suites carried their own date, command,
 * machine, etcd and targets gets them from its top level (they all came from that one run).
 */
export function readLatest(jsonPath) {
  if (!existsSync(jsonPath)) return { suites: {} };
  const latest = JSON.parse(readFileSync(jsonPath, 'utf8'));
  const suites = {};
  for (const [name, entry] of Object.entries(latest.suites ?? {})) {
    suites[name] =
      entry.date !== undefined
        ? entry
        : {
            title: entry.title,
            date: latest.date,
            command: latest.command,
            machine: latest.machine,
            etcd: latest.etcd,
            targets: (latest.targets ?? []).filter((t) => t.suite === name).map(({ suite: _suite, ...t }) => t),
            ...entry,
          };
  }
  return { ...latest, suites: ordered(suites) };
}

/** The floor of the scale suite's memory figures, measured now (see system.mjs emptyNodeRss). */
function scaleFloors() {
  const rss = emptyNodeRss();
  if (!rss) return {};
  return {
    nodeEmptyRssBytes: rss.bytes,
    nodeEmptyRss: { samples: rss.samples, node: rss.node, method: `node -e "setTimeout(() => {}, 1e9)", VmRSS after ${rss.settleMs} ms, median of ${rss.samples.length}` },
  };
}

function allTargets(suites) {
  return Object.entries(ordered(suites)).flatMap(([name, entry]) => (entry.targets ?? []).map((t) => ({ suite: name, ...t })));
}

function ordered(suites) {
  const names = Object.keys(suites).sort((a, b) => rank(a) - rank(b));
  return Object.fromEntries(names.map((n) => [n, suites[n]]));
}

function rank(name) {
  const i = SUITES.indexOf(name);
  return i === -1 ? SUITES.length : i;
}

/** Pretty-printed JSON, directories created as needed; written to a temp file, then renamed. */
function writeJson(path, value) {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n');
  renameSync(tmp, path);
}
