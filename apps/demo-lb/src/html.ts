import type { WebServerRow } from './agreement.js';
import type { FleetCluster, FleetReport, FleetWatcher } from './fleet.js';
import type { LbReport } from './report.js';

// The load balancer's page: one self-contained document (inline CSS and JS, no external
// assets). The server renders the current report; the script then keeps the table current from
// the /events stream, updating rows in place. Names, ids and errors come from etcd and from
// other servers: the server escapes them, the script only ever sets textContent.

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text safe in HTML element content and in quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** The Content-Security-Policy sent with the page: only its own nonce'd style and script run. */
export function contentSecurityPolicy(nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    "connect-src 'self'",
    'img-src data:',
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

export function rowClass(row: WebServerRow): string {
  return `row${row.agrees ? '' : ' disagrees'}${row.error !== undefined ? ' errored' : ''}`;
}

export function renderRow(row: WebServerRow): string {
  const chips = row.databases.map((id) => `<span class="chip">${escapeHtml(id)}</span>`).join('');
  const labels = [
    row.agrees ? '<span class="label agrees">agrees</span>' : '<span class="label disagrees">disagrees</span>',
    row.error !== undefined ? `<span class="error">${escapeHtml(row.error)}</span>` : '',
  ].join('');
  return (
    `<tr class="${rowClass(row)}" data-web="${escapeHtml(row.name)}">` +
    `<td class="name">${escapeHtml(row.name)}</td>` +
    `<td class="dbs">${chips || `<span class="none">${row.error !== undefined ? 'unknown' : 'none'}</span>`}</td>` +
    `<td class="status">${labels}</td>` +
    `</tr>`
  );
}

/** One watcher's row of the fleet table (class `watcher`, not `row`: those are the web servers). */
export function renderWatcherRow(cluster: string, w: FleetWatcher): string {
  const cells = [w.id, `${w.command} ${w.pid}`, w.state, w.appliedRevision, String(w.members), w.reload, w.hash];
  const classes = ['id', 'proc', 'state', 'applied', 'members', 'reload', 'hash'];
  return (
    `<tr class="watcher ${w.state.toLowerCase()}" data-cluster="${escapeHtml(cluster)}" data-watcher="${escapeHtml(w.id)}" data-state="${escapeHtml(w.state)}" data-applied="${escapeHtml(w.appliedRevision)}" data-pid="${w.pid}">` +
    cells
      .map(
        (text, i) =>
          `<td class="${classes[i]}">${i === 2 ? `<span class="state ${w.state.toLowerCase()}">${escapeHtml(text)}</span>${w.reason ? `<span class="error">${escapeHtml(w.reason)}</span>` : ''}` : escapeHtml(text)}</td>`,
      )
      .join('') +
    `</tr>`
  );
}

/** One cluster's part of the fleet table. */
export function renderFleetCluster(c: FleetCluster): string {
  const rows = c.watchers.map((w) => renderWatcherRow(c.name, w)).join('');
  return (
    `<tbody class="fleet-cluster" data-cluster="${escapeHtml(c.name)}">` +
    `<tr class="cluster-head"><th colspan="7"><span class="cname">${escapeHtml(c.name)}</span> <code>${escapeHtml(c.path)}/</code> newest revision <span class="rev">${escapeHtml(c.revision)}</span>` +
    ` · ${c.watchers.length} watcher${c.watchers.length === 1 ? '' : 's'}${c.mismatches > 0 ? ' · <span class="error">hash mismatch</span>' : ''}</th></tr>` +
    (rows || '<tr class="nowatchers"><td colspan="7"><span class="none">no live watchers</span></td></tr>') +
    `</tbody>`
  );
}

export function renderPage(report: LbReport, nonce: string, fleet: FleetReport = { statusPrefix: '', clusters: [] }): string {
  const n = escapeHtml(nonce);
  const consistent = report.consistent;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>cluster-control demo</title>
<link rel="icon" href="data:,">
<style nonce="${n}">${CSS}</style>
</head>
<body data-consistent="${consistent}" data-updates="0">
<header>
  <div class="brand">
    <h1>cluster-control demo</h1>
    <p class="sub">load balancer <code id="lb-name">${escapeHtml(report.loadBalancer)}</code></p>
  </div>
  <div class="stats">
    <div class="stat"><span class="num" id="count-web">${report.webServers.length}</span><span class="what">web servers</span></div>
    <div class="stat"><span class="num" id="count-db">${report.databases.length}</span><span class="what">databases</span></div>
    <span id="consistency" class="badge ${consistent ? 'ok' : 'bad'}">${consistent ? 'consistent' : 'inconsistent'}</span>
    <span id="live" class="live" data-state="connecting" title="live updates"><span class="dot"></span><span id="live-text">connecting</span></span>
  </div>
</header>
<main>
  <table id="report">
    <thead><tr><th>Web server</th><th>Database ids</th><th>Status</th></tr></thead>
    <tbody id="rows">${report.webServers.map(renderRow).join('')}</tbody>
  </table>
  <p id="empty"${report.webServers.length > 0 ? ' hidden' : ''}>No web servers registered.</p>
  <footer>
    <span>majority list: <span id="majority">${report.databases.map((id) => `<span class="chip">${escapeHtml(id)}</span>`).join('') || '<span class="none">none</span>'}</span></span>
    <span>updated <time id="generated-at" datetime="${escapeHtml(report.generatedAt)}">${escapeHtml(report.generatedAt)}</time></span>
    <span><a href="/report.txt">text</a> · <a href="/report.json">JSON</a></span>
  </footer>
  <h2>Fleet <span class="sub">every watcher's status record${fleet.statusPrefix ? ` under <code id="status-prefix">${escapeHtml(fleet.statusPrefix)}/</code>` : ''}</span></h2>
  <table id="fleet">
    <thead><tr><th>Watcher</th><th>Process</th><th>State</th><th>Applied</th><th>Members</th><th>Reload</th><th>Hash</th></tr></thead>
    ${fleet.clusters.map(renderFleetCluster).join('')}
  </table>
  <p id="fleet-error" class="error"${fleet.error ? '' : ' hidden'}>${escapeHtml(fleet.error ?? '')}</p>
</main>
<script nonce="${n}">${SCRIPT}</script>
</body>
</html>
`;
}

const CSS = `
:root { color-scheme: light dark; --bg: #f6f7f9; --card: #fff; --fg: #1c2330; --muted: #667085; --line: #e4e7ec;
  --ok: #067647; --ok-bg: #dcfae6; --bad: #b42318; --bad-bg: #fee4e2; --chip: #eef2ff; --chip-fg: #3538cd; }
@media (prefers-color-scheme: dark) { :root { --bg: #0f1419; --card: #171d26; --fg: #e6e9ef; --muted: #98a2b3; --line: #283241;
  --ok: #75e0a7; --ok-bg: #053321; --bad: #fda29b; --bad-bg: #55160c; --chip: #1f2a4d; --chip-fg: #a4bcfd; } }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
header { display: flex; flex-wrap: wrap; gap: 16px; align-items: center; justify-content: space-between; padding: 20px 32px; background: var(--card); border-bottom: 1px solid var(--line); }
h1 { margin: 0; font-size: 20px; font-weight: 650; letter-spacing: -0.01em; }
.sub { margin: 2px 0 0; color: var(--muted); }
code { font: 13px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.stats { display: flex; flex-wrap: wrap; gap: 12px; align-items: center; }
.stat { display: flex; align-items: baseline; gap: 6px; padding: 6px 12px; border: 1px solid var(--line); border-radius: 10px; }
.num { font-size: 20px; font-weight: 650; font-variant-numeric: tabular-nums; }
.what { color: var(--muted); font-size: 13px; }
.badge { padding: 4px 12px; border-radius: 999px; font-weight: 600; font-size: 13px; }
.badge.ok { color: var(--ok); background: var(--ok-bg); }
.badge.bad { color: var(--bad); background: var(--bad-bg); }
.live { display: inline-flex; align-items: center; gap: 6px; color: var(--muted); font-size: 13px; }
.dot { width: 9px; height: 9px; border-radius: 50%; background: var(--muted); }
.live[data-state="live"] .dot { background: #17b26a; animation: pulse 2s infinite; }
.live[data-state="offline"] .dot, .live[data-state="reconnecting"] .dot { background: #f04438; }
@keyframes pulse { 0% { box-shadow: 0 0 0 0 rgba(23, 178, 106, .6); } 70% { box-shadow: 0 0 0 7px rgba(23, 178, 106, 0); } 100% { box-shadow: 0 0 0 0 rgba(23, 178, 106, 0); } }
main { max-width: 1000px; margin: 28px auto; padding: 0 24px; }
table { width: 100%; border-collapse: separate; border-spacing: 0; background: var(--card); border: 1px solid var(--line); border-radius: 12px; overflow: hidden; }
th { text-align: left; font-size: 12px; text-transform: uppercase; letter-spacing: .05em; color: var(--muted); font-weight: 600; padding: 10px 16px; border-bottom: 1px solid var(--line); }
td { padding: 12px 16px; border-bottom: 1px solid var(--line); vertical-align: middle; overflow-wrap: anywhere; }
tbody tr:last-child td { border-bottom: 0; }
td.name { font: 14px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; white-space: nowrap; }
.chip { display: inline-block; margin: 2px 6px 2px 0; padding: 2px 10px; border-radius: 999px; background: var(--chip); color: var(--chip-fg); font: 12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.none { color: var(--muted); font-style: italic; }
.label { display: inline-block; padding: 2px 10px; border-radius: 999px; font-size: 12px; font-weight: 600; }
.label.agrees { color: var(--ok); background: var(--ok-bg); }
.label.disagrees { color: #fff; background: #d92d20; }
.error { display: block; margin-top: 4px; color: var(--bad); font-size: 13px; }
tr.disagrees td { background: var(--bad-bg); }
tr.disagrees td:first-child { box-shadow: inset 4px 0 0 #d92d20; }
tr.disagrees td.name { color: var(--bad); }
tr.changed td { animation: flash 1.2s ease-out; }
@keyframes flash { from { background: rgba(253, 176, 34, .35); } }
h2 { margin: 32px 0 10px; font-size: 17px; font-weight: 650; }
h2 .sub { font-size: 13px; font-weight: 400; margin-left: 8px; }
#fleet td { padding: 8px 16px; font-size: 13px; }
#fleet td.id, #fleet td.hash, #fleet td.applied { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
#fleet tr.cluster-head th { text-transform: none; letter-spacing: 0; font-size: 13px; color: var(--fg); background: var(--bg); }
#fleet tr.cluster-head .cname { font-weight: 650; }
.state { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 12px; font-weight: 600; }
.state.synced { color: var(--ok); background: var(--ok-bg); }
.state.behind { color: #b54708; background: #fef0c7; }
.state.error { color: var(--bad); background: var(--bad-bg); }
#empty { text-align: center; color: var(--muted); padding: 24px; }
footer { display: flex; flex-wrap: wrap; gap: 8px 24px; justify-content: space-between; margin-top: 14px; color: var(--muted); font-size: 13px; }
a { color: inherit; }
`;

// Runs in the browser. Builds every node with textContent: nothing from the report is parsed as HTML.
const SCRIPT = `
(function () {
  'use strict';
  var rows = document.getElementById('rows');
  var updates = 0;
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function chips(parent, ids, empty) {
    parent.replaceChildren();
    if (ids.length === 0) parent.appendChild(el('span', 'none', empty || 'none'));
    ids.forEach(function (id) { parent.appendChild(el('span', 'chip', String(id))); });
  }
  function fill(tr, w) {
    var key = JSON.stringify(w);
    if (tr.__key === key) return false;
    tr.__key = key;
    tr.className = 'row' + (w.agrees ? '' : ' disagrees') + (w.error !== undefined ? ' errored' : '');
    tr.setAttribute('data-web', w.name);
    tr.replaceChildren();
    tr.appendChild(el('td', 'name', String(w.name)));
    var dbs = el('td', 'dbs');
    chips(dbs, w.databases || [], w.error !== undefined ? 'unknown' : 'none');
    tr.appendChild(dbs);
    var status = el('td', 'status');
    status.appendChild(w.agrees ? el('span', 'label agrees', 'agrees') : el('span', 'label disagrees', 'disagrees'));
    if (w.error !== undefined) status.appendChild(el('span', 'error', String(w.error)));
    tr.appendChild(status);
    return true;
  }
  function flash(tr) {
    tr.classList.remove('changed');
    void tr.offsetWidth;
    tr.classList.add('changed');
    clearTimeout(tr.__flash);
    tr.__flash = setTimeout(function () { tr.classList.remove('changed'); }, 1300);
  }
  Array.prototype.forEach.call(rows.children, function (tr) { tr.__key = 'server'; });
  function render(report) {
    var existing = new Map();
    Array.prototype.forEach.call(rows.children, function (tr) { existing.set(tr.getAttribute('data-web'), tr); });
    report.webServers.forEach(function (w, i) {
      var tr = existing.get(w.name);
      existing.delete(w.name);
      var isNew = !tr;
      if (isNew) tr = document.createElement('tr');
      var changed = fill(tr, w);
      if (rows.children[i] !== tr) rows.insertBefore(tr, rows.children[i] || null);
      if ((changed && tr.__seen) || (isNew && updates > 0)) flash(tr);
      tr.__seen = true;
    });
    existing.forEach(function (tr) { tr.remove(); });
    document.getElementById('count-web').textContent = String(report.webServers.length);
    document.getElementById('count-db').textContent = String(report.databases.length);
    var badge = document.getElementById('consistency');
    badge.className = 'badge ' + (report.consistent ? 'ok' : 'bad');
    badge.textContent = report.consistent ? 'consistent' : 'inconsistent';
    chips(document.getElementById('majority'), report.databases);
    var time = document.getElementById('generated-at');
    time.textContent = report.generatedAt;
    time.setAttribute('datetime', report.generatedAt);
    document.getElementById('empty').hidden = report.webServers.length > 0;
    document.getElementById('lb-name').textContent = report.loadBalancer;
    document.body.setAttribute('data-consistent', String(report.consistent));
    updates++;
    document.body.setAttribute('data-updates', String(updates));
  }
  var fleet = document.getElementById('fleet');
  function renderFleet(report) {
    Array.prototype.slice.call(fleet.querySelectorAll('tbody')).forEach(function (b) { b.remove(); });
    report.clusters.forEach(function (c) {
      var body = el('tbody', 'fleet-cluster');
      body.setAttribute('data-cluster', c.name);
      var head = el('tr', 'cluster-head');
      var th = el('th');
      th.colSpan = 7;
      th.appendChild(el('span', 'cname', String(c.name)));
      th.appendChild(document.createTextNode(' '));
      th.appendChild(el('code', null, c.path + '/'));
      th.appendChild(document.createTextNode(' newest revision '));
      th.appendChild(el('span', 'rev', String(c.revision)));
      th.appendChild(document.createTextNode(' \u00b7 ' + c.watchers.length + (c.watchers.length === 1 ? ' watcher' : ' watchers')));
      if (c.mismatches > 0) { th.appendChild(document.createTextNode(' \u00b7 ')); th.appendChild(el('span', 'error', 'hash mismatch')); }
      head.appendChild(th);
      body.appendChild(head);
      if (c.watchers.length === 0) {
        var none = el('tr', 'nowatchers');
        var td = el('td');
        td.colSpan = 7;
        td.appendChild(el('span', 'none', 'no live watchers'));
        none.appendChild(td);
        body.appendChild(none);
      }
      c.watchers.forEach(function (w) {
        var tr = el('tr', 'watcher ' + String(w.state).toLowerCase());
        tr.setAttribute('data-cluster', c.name);
        tr.setAttribute('data-watcher', w.id);
        tr.setAttribute('data-state', w.state);
        tr.setAttribute('data-applied', w.appliedRevision);
        tr.setAttribute('data-pid', String(w.pid));
        tr.appendChild(el('td', 'id', String(w.id)));
        tr.appendChild(el('td', 'proc', w.command + ' ' + w.pid));
        var st = el('td', 'state');
        st.appendChild(el('span', 'state ' + String(w.state).toLowerCase(), String(w.state)));
        if (w.reason) st.appendChild(el('span', 'error', String(w.reason)));
        tr.appendChild(st);
        tr.appendChild(el('td', 'applied', String(w.appliedRevision)));
        tr.appendChild(el('td', 'members', String(w.members)));
        tr.appendChild(el('td', 'reload', String(w.reload)));
        tr.appendChild(el('td', 'hash', String(w.hash)));
        body.appendChild(tr);
      });
      fleet.appendChild(body);
    });
    var error = document.getElementById('fleet-error');
    error.textContent = report.error || '';
    error.hidden = !report.error;
    fleetUpdates++;
    document.body.setAttribute('data-fleet-updates', String(fleetUpdates));
  }
  var fleetUpdates = 0;
  var live = document.getElementById('live');
  var liveText = document.getElementById('live-text');
  function setLive(state) {
    live.setAttribute('data-state', state);
    liveText.textContent = state;
  }
  if (typeof EventSource !== 'function') { setLive('offline'); return; }
  var source = new EventSource('/events');
  source.onopen = function () { setLive('live'); };
  source.onerror = function () { setLive(source.readyState === EventSource.CLOSED ? 'offline' : 'reconnecting'); };
  source.addEventListener('report', function (event) {
    try { render(JSON.parse(event.data)); setLive('live'); } catch (err) { console.error('bad report event', err); }
  });
  source.addEventListener('fleet', function (event) {
    try { renderFleet(JSON.parse(event.data)); } catch (err) { console.error('bad fleet event', err); }
  });
})();
`;
