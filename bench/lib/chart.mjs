// @ts-check
// The README's chart: an SVG (no dependencies) of the figures in a latest.json, panels in a grid of
// two columns:
//   change latency, ours vs the bare etcd3 watch floor, as cumulative distributions;
//   time per change at 1k / 10k / 100k members, as cumulative distributions;
//   the watcher's memory at 1k / 10k / 100k members (RSS before and after load, peak, settled)
//   over the RSS of an empty node process measured in the same run;
//   cold start of the one-shot commands vs node -e 0 and etcdctl get (min, p50, p90).
// A panel whose suite (or figures) is missing from the results is left out.
//
//   node bench/lib/chart.mjs [LATEST_JSON] [OUT_SVG]   # default bench/results/latest.json → latency.svg next to it

import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"';
const COLORS = { ours: '#d9480f', floor: '#1971c2', other: '#868e96' };
const PANEL_W = 460;
const PANEL_H = 310;
const COLUMNS = 2;

/** latest: the object in latest.json (bench/lib/results.mjs). Returns SVG text. */
export function renderChart(latest) {
  const panels = [];
  const latency = latest.suites.latency?.result;
  if (latency?.raw) panels.push((x) => latencyPanel(latency, x));
  const scaleEntry = latest.suites.scale;
  const scale = scaleEntry?.result;
  if (scale?.watchers?.some((w) => w.raw?.total?.length)) panels.push((x) => scalePanel(scale, x));
  if (scale?.watchers?.some((w) => w.memory)) panels.push((x) => memoryPanel(scale, nodeEmptyRss(scaleEntry), x));
  const cold = latest.suites['cold-start']?.result;
  if (cold?.commands) panels.push((x) => coldStartPanel(cold, x));
  const columns = Math.min(Math.max(panels.length, 1), COLUMNS);
  const rows = Math.max(1, Math.ceil(panels.length / COLUMNS));
  const width = PANEL_W * columns;
  const height = PANEL_H * rows + 40;
  const body = panels.length
    ? panels.map((draw, i) => `<g transform="translate(${(i % COLUMNS) * PANEL_W},${Math.floor(i / COLUMNS) * PANEL_H})">\n${draw(0)}\n</g>`).join('\n')
    : `<text x="${width / 2}" y="${PANEL_H / 2}" text-anchor="middle" fill="#666">no latency, scale or cold-start results in this file</text>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="12">
<rect width="100%" height="100%" fill="#ffffff"/>
${body}
${caption(latest)
  .map((line, k, all) => `<text x="${width / 2}" y="${height - 10 - (all.length - 1 - k) * 14}" text-anchor="middle" fill="#666" font-size="11">${esc(line)}</text>`)
  .join('\n')}
</svg>
`;
}

/** The floor of the memory panel: an empty node process's RSS, measured with the scale suite. */
export function nodeEmptyRss(scaleEntry) {
  return scaleEntry?.result?.floors?.nodeEmptyRssBytes ?? scaleEntry?.floors?.nodeEmptyRssBytes;
}

/** Where the figures come from: the dates, machines and etcd versions of the suites shown. */
function caption(latest) {
  const entries = Object.values(latest.suites);
  const distinct = (f) => [...new Set(entries.map(f).filter(Boolean))];
  const dates = distinct((e) => e.date?.slice(0, 10) ?? latest.date?.slice(0, 10)).sort();
  const nodes = distinct((e) => (e.machine ?? latest.machine)?.node);
  const cpus = distinct((e) => {
    const m = e.machine ?? latest.machine;
    return m && `${m.cpus} cpu(s)${m.cpuModel ? ` ${m.cpuModel}` : ''}`;
  });
  const etcds = distinct((e) => e.etcd ?? latest.etcd);
  const commands = distinct((e) => e.command ?? latest.command);
  const when = dates.length > 1 ? `${dates[0]} … ${dates.at(-1)}` : (dates[0] ?? '');
  return [
    [when, nodes.length ? `node ${nodes.join(', ')}` : '', cpus.join(' / '), etcds.length ? `etcd ${etcds.join(', ')}` : ''].filter(Boolean).join(' · '),
    commands.length === 1 ? commands[0] : `merged from ${commands.length} runs: ${commands.join('; ')}`,
  ];
}

/** Cumulative distributions on a log time axis: how many changes were in the file by t ms. */
function ecdfPanel(x0, heading, series, note) {
  const left = x0 + 55,
    right = x0 + 440,
    top = 48,
    bottom = 260;
  const all = series.flatMap((s) => s.values).filter((v) => v > 0);
  const lo = Math.pow(10, Math.floor(Math.log10(Math.min(...all)) * 4) / 4);
  const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(...all)) * 4) / 4);
  const xs = (v) => left + ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * (right - left);
  const ys = (f) => bottom - f * (bottom - top);
  const out = [title(x0 + 247, heading), axes(left, right, top, bottom)];
  for (const tick of logTicks(lo, hi)) {
    out.push(`<line x1="${xs(tick)}" x2="${xs(tick)}" y1="${top}" y2="${bottom}" stroke="#eee"/>`);
    out.push(`<text x="${xs(tick)}" y="${bottom + 15}" text-anchor="middle" fill="#444">${tick}</text>`);
  }
  for (const f of [0, 0.5, 0.9, 0.99]) {
    out.push(`<line x1="${left}" x2="${right}" y1="${ys(f)}" y2="${ys(f)}" stroke="#eee"/>`);
    out.push(`<text x="${left - 6}" y="${ys(f) + 4}" text-anchor="end" fill="#444">${f === 0.99 ? 'p99' : f === 0.9 ? 'p90' : f === 0.5 ? 'p50' : f}</text>`);
  }
  out.push(`<text x="${(left + right) / 2}" y="${bottom + 32}" text-anchor="middle" fill="#444">ms (log scale)</text>`);
  series.forEach(({ label, values, color }, i) => {
    const sorted = [...values].sort((a, b) => a - b);
    const points = sorted.map((v, k) => `${xs(Math.max(v, lo)).toFixed(1)},${ys((k + 1) / sorted.length).toFixed(1)}`);
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${xs(Math.max(sorted[0], lo)).toFixed(1)},${ys(0)} ${points.join(' ')}"/>`);
    const ly = bottom - 8 - (series.length - i) * 16; // lower right: the curves are never there
    out.push(`<line x1="${right - 230}" x2="${right - 212}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"/>`);
    out.push(`<text x="${right - 206}" y="${ly + 4}" fill="#222">${esc(label)}</text>`);
  });
  if (note) out.push(`<text x="${x0 + 247}" y="37" text-anchor="middle" fill="#666" font-size="11">${esc(note)}</text>`);
  return out.join('\n');
}

function latencyPanel(result, x0) {
  return ecdfPanel(
    x0,
    `change latency: put → file installed (${result.samples} changes)`,
    [
      { label: `floor: bare etcd3 watch event · p50 ${result.floor.p50.toFixed(2)}`, values: result.raw.floor, color: COLORS.floor },
      { label: `ours: watcher file installed · p50 ${result.latency.p50.toFixed(2)}`, values: result.raw.latency, color: COLORS.ours },
    ],
    `ratio p50 ${result.ratio.p50.toFixed(2)}× · p99 ${result.ratio.p99.toFixed(2)}×`,
  );
}

/** Time per change (put → installed) for each cluster size the scale suite ran. */
function scalePanel(result, x0) {
  const shades = ['#ffa94d', '#e8590c', '#862e09'];
  const watchers = result.watchers.filter((w) => w.raw?.total?.length);
  return ecdfPanel(
    x0,
    'time per change by cluster size (put → installed)',
    watchers.map((w, i) => ({
      label: `${w.size.toLocaleString('en')} members · p50 ${w.change.total.p50.toFixed(1)}`,
      values: w.raw.total,
      color: shades[Math.min(i, shades.length - 1) + Math.max(0, shades.length - watchers.length)] ?? COLORS.ours,
    })),
    `${watchers[0]?.raw.total.length ?? 0} changes each; json handler, atomic install`,
  );
}

/** The watcher's RSS at each cluster size (scale suite, part A), bars in MiB over the empty-node floor. */
function memoryPanel(result, floorBytes, x0) {
  const left = x0 + 55,
    right = x0 + 440,
    top = 48,
    bottom = 260;
  const MiB = 2 ** 20;
  const kinds = [
    { key: 'rssBeforeLoad', label: 'before load', color: '#ced4da' },
    { key: 'rssAfterLoad', label: 'after load', color: '#ffa94d' },
    { key: 'hwm', label: 'peak (VmHWM)', color: '#d9480f' },
    { key: 'rssSettled', label: 'settled (idle)', color: '#862e09' },
  ].filter((k) => result.watchers.some((w) => Number.isFinite(w.memory?.[k.key])));
  const watchers = result.watchers.filter((w) => w.memory);
  const values = watchers.flatMap((w) => kinds.map((k) => w.memory[k.key])).filter(Number.isFinite);
  const hi = niceCeil(Math.max(...values, floorBytes ?? 0) / MiB);
  const ys = (mib) => bottom - (mib / hi) * (bottom - top);
  const out = [title(x0 + 247, 'watcher memory by cluster size (RSS)'), axes(left, right, top, bottom)];
  for (let k = 0; k <= 4; k++) {
    const v = (hi * k) / 4;
    out.push(`<line x1="${left}" x2="${right}" y1="${ys(v)}" y2="${ys(v)}" stroke="#eee"/>`);
    out.push(`<text x="${left - 6}" y="${ys(v) + 4}" text-anchor="end" fill="#444">${Math.round(v)}</text>`);
  }
  out.push(`<text x="${left - 40}" y="${(top + bottom) / 2}" text-anchor="middle" fill="#444" transform="rotate(-90 ${left - 40} ${(top + bottom) / 2})">MiB</text>`);
  const groupW = (right - left) / Math.max(watchers.length, 1);
  const barW = Math.min(26, (groupW - 16) / Math.max(kinds.length, 1));
  watchers.forEach((w, g) => {
    const cx = left + groupW * (g + 0.5);
    const x = cx - (barW * kinds.length) / 2;
    kinds.forEach((k, i) => {
      const v = w.memory[k.key];
      if (!Number.isFinite(v)) return;
      const mib = v / MiB;
      out.push(`<rect x="${(x + i * barW + 1).toFixed(1)}" y="${ys(mib).toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(bottom - ys(mib)).toFixed(1)}" fill="${k.color}"/>`);
      out.push(`<text x="${(x + (i + 0.5) * barW).toFixed(1)}" y="${(ys(mib) - 3).toFixed(1)}" text-anchor="middle" fill="#444" font-size="9">${Math.round(mib)}</text>`);
    });
    out.push(`<text x="${cx}" y="${bottom + 15}" text-anchor="middle" fill="#444">${w.size.toLocaleString('en')}</text>`);
  });
  out.push(`<text x="${(left + right) / 2}" y="${bottom + 32}" text-anchor="middle" fill="#444">members (one watcher process each)</text>`);
  // Legend, upper left (the bars grow to the right).
  kinds.forEach((k, i) => {
    const ly = top + 6 + i * 15;
    out.push(`<rect x="${left + 8}" y="${ly - 8}" width="12" height="10" fill="${k.color}"/>`);
    out.push(`<text x="${left + 25}" y="${ly + 1}" fill="#222" font-size="11">${esc(k.label)}</text>`);
  });
  const ly = top + 6 + kinds.length * 15; // the floor in the legend: the bars cover the line's own length
  if (Number.isFinite(floorBytes)) {
    const y = ys(floorBytes / MiB);
    out.push(`<line x1="${left}" x2="${right}" y1="${y}" y2="${y}" stroke="${COLORS.floor}" stroke-width="1.5" stroke-dasharray="6 3"/>`);
    out.push(`<line x1="${left + 8}" x2="${left + 20}" y1="${ly - 3}" y2="${ly - 3}" stroke="${COLORS.floor}" stroke-width="1.5" stroke-dasharray="4 2"/>`);
    out.push(`<text x="${left + 25}" y="${ly + 1}" fill="${COLORS.floor}" font-size="11">floor: empty node process, ${(floorBytes / MiB).toFixed(1)} MiB</text>`);
  } else {
    out.push(`<text x="${left + 8}" y="${ly + 1}" fill="#666" font-size="11">(no empty-node floor recorded with these results)</text>`);
  }
  const settled = watchers.filter((w) => Number.isFinite(w.memory.rssSettled)).map((w) => w.size.toLocaleString('en'));
  const note = settled.length && settled.length < watchers.length ? `settled: idle, after V8 gave memory back (${settled.join(', ')} only)` : '';
  if (note) out.push(`<text x="${x0 + 247}" y="37" text-anchor="middle" fill="#666" font-size="11">${esc(note)}</text>`);
  return out.join('\n');
}

/** One row per command: a whisker from min to p90 and a dot at p50, on a linear ms axis. */
function coldStartPanel(result, x0) {
  const left = x0 + 210,
    right = x0 + 440,
    top = 48,
    bottom = 260;
  const commands = result.commands;
  const hi = niceCeil(Math.max(...commands.map((c) => c.p90)));
  const xs = (v) => left + (v / hi) * (right - left);
  const rowH = (bottom - top) / commands.length;
  const out = [title(x0 + 230, `cold start of one-shot commands (${result.runs} runs)`)];
  out.push(axes(left, right, top - 8, bottom));
  for (let k = 0; k <= 4; k++) {
    const v = (hi * k) / 4;
    out.push(`<line x1="${xs(v)}" x2="${xs(v)}" y1="${top - 8}" y2="${bottom}" stroke="#eee"/>`);
    out.push(`<text x="${xs(v)}" y="${bottom + 15}" text-anchor="middle" fill="#444">${Math.round(v)}</text>`);
  }
  out.push(`<text x="${(left + right) / 2}" y="${bottom + 32}" text-anchor="middle" fill="#444">ms, exec to exit (dot p50, line min–p90)</text>`);
  commands.forEach((c, i) => {
    const y = top + rowH * (i + 0.5);
    const color = c.command.startsWith('cluster-control') ? COLORS.ours : c.command.startsWith('(') ? COLORS.other : COLORS.floor;
    out.push(`<text x="${left - 8}" y="${y + 4}" text-anchor="end" fill="#222">${esc(c.command)}</text>`);
    out.push(`<line x1="${xs(c.min)}" x2="${xs(c.p90)}" y1="${y}" y2="${y}" stroke="${color}" stroke-width="2"/>`);
    out.push(`<circle cx="${xs(c.p50)}" cy="${y}" r="4" fill="${color}"/>`);
    out.push(`<text x="${Math.min(xs(c.p90) + 6, right - 2)}" y="${y - 6}" fill="#444" font-size="10">${c.p50.toFixed(0)}</text>`);
  });
  return out.join('\n');
}

function title(x, text) {
  return `<text x="${x}" y="22" text-anchor="middle" font-size="13" font-weight="600" fill="#222">${esc(text)}</text>`;
}

function axes(left, right, top, bottom) {
  return `<line x1="${left}" x2="${right}" y1="${bottom}" y2="${bottom}" stroke="#999"/><line x1="${left}" x2="${left}" y1="${top}" y2="${bottom}" stroke="#999"/>`;
}

function logTicks(lo, hi) {
  const ticks = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * Math.pow(10, e);
      if (v >= lo && v <= hi) ticks.push(Number(v.toPrecision(3)));
    }
  }
  return ticks;
}

function niceCeil(v) {
  const step = Math.pow(10, Math.floor(Math.log10(v)));
  return Math.ceil(v / step) * step;
}

function esc(text) {
  return String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

// ---------------------------------------------------------------------------------------------
// Direct run: re-render the svg from a latest.json.

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const jsonPath = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..', 'results', 'latest.json'));
  const svgPath = resolve(process.argv[3] ?? join(dirname(jsonPath), 'latency.svg'));
  writeFileSync(svgPath, renderChart(JSON.parse(readFileSync(jsonPath, 'utf8'))));
  process.stderr.write(`chart: wrote ${svgPath} from ${jsonPath}\n`);
}
