// @ts-check
// The README's chart: an SVG (no dependencies) of the latency distributions in a latest.json.
//   change latency, ours vs the bare etcd3 watch floor, as cumulative distributions;
//   time per change at 1k / 10k / 100k members, as cumulative distributions;
//   cold start of the one-shot commands vs node -e 0 and etcdctl get (min, p50, p90).
// A panel whose suite is missing from the results is left out.

const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"';
const COLORS = { ours: '#d9480f', floor: '#1971c2', other: '#868e96' };

/** latest: the object bench/run.mjs writes to latest.json. Returns SVG text. */
export function renderChart(latest) {
  const panels = [];
  const latency = latest.suites.latency?.result;
  if (latency?.raw) panels.push((x) => latencyPanel(latency, x));
  const scale = latest.suites.scale?.result;
  if (scale?.watchers?.some((w) => w.raw?.total?.length)) panels.push((x) => scalePanel(scale, x));
  const cold = latest.suites['cold-start']?.result;
  if (cold?.commands) panels.push((x) => coldStartPanel(cold, x));
  const width = 460 * Math.max(panels.length, 1);
  const height = 330;
  const body = panels.map((draw, i) => draw(i * 460)).join('\n');
  const caption = `${latest.date.slice(0, 10)} · node ${latest.machine.node} · ${latest.machine.cpus} cpu(s) · etcd ${latest.etcd} · ${esc(latest.command)}`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="12">
<rect width="100%" height="100%" fill="#ffffff"/>
${body}
<text x="${width / 2}" y="${height - 8}" text-anchor="middle" fill="#666" font-size="11">${caption}</text>
</svg>
`;
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
