import { describe, expect, it } from 'vitest';
import { contentSecurityPolicy, escapeHtml, renderPage, renderRow } from './html.js';
import { buildReport } from './report.js';

const HOSTILE = `<script>alert("x")</script><img src=x onerror=alert(1)>'&`;

describe('escapeHtml', () => {
  it('escapes the five special characters', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
    expect(escapeHtml('plain db-1 127.0.0.1:80')).toBe('plain db-1 127.0.0.1:80');
  });
});

describe('renderRow', () => {
  it('has the row class, the name, and each id as a chip', () => {
    const [row] = buildReport('lb', new Date(0), [{ name: '127.0.0.4:8080', databases: ['db-a', 'db-b'] }]).webServers;
    expect(renderRow(row!)).toBe(
      '<tr class="row" data-web="127.0.0.4:8080"><td class="name">127.0.0.4:8080</td><td class="dbs"><span class="chip">db-a</span><span class="chip">db-b</span></td><td class="status"><span class="label agrees">agrees</span></td></tr>',
    );
  });

  it('marks rows that disagree and shows errors', () => {
    const report = buildReport('lb', new Date(0), [
      { name: 'w1', databases: ['a', 'b'] },
      { name: 'w2', databases: ['a'] },
      { name: 'w3', databases: ['a', 'b'] },
      { name: 'w4', databases: undefined, error: 'timeout' },
    ]);
    const [, w2, , w4] = report.webServers.map(renderRow);
    expect(w2).toContain('<tr class="row disagrees" data-web="w2">');
    expect(w2).toContain('<span class="label disagrees">disagrees</span>');
    expect(w4).toContain('<tr class="row disagrees errored" data-web="w4">');
    expect(w4).toContain('<span class="error">timeout</span>');
  });
});

describe('renderPage', () => {
  it('escapes hostile names, ids, errors and the load balancer name', () => {
    const report = buildReport(HOSTILE, new Date(0), [
      { name: HOSTILE, databases: [HOSTILE, 'db-1'] },
      { name: 'w2', databases: undefined, error: HOSTILE },
    ]);
    const page = renderPage(report, 'n0nce');
    expect(page).not.toContain('<script>alert');
    expect(page).not.toContain('<img');
    expect(page).not.toContain('"x")');
    const escaped = escapeHtml(HOSTILE);
    expect(page).toContain(`<code id="lb-name">${escaped}</code>`);
    expect(page).toContain(`data-web="${escaped}"`);
    expect(page).toContain(`<td class="name">${escaped}</td>`);
    expect(page).toContain(`<span class="chip">${escaped}</span>`);
    expect(page).toContain(`<span class="error">${escaped}</span>`);
    // Only the page's own two nonce'd elements run.
    expect(page.match(/<script/g)).toHaveLength(1);
    expect(page).toContain('<script nonce="n0nce">');
    expect(page).toContain('<style nonce="n0nce">');
  });

  it('is a self-contained page with the header, counts and live updates', () => {
    const report = buildReport('127.0.0.6:8080', new Date(0), [
      { name: 'w1', databases: ['a', 'b'] },
      { name: 'w2', databases: ['a', 'b'] },
    ]);
    const page = renderPage(report, 'abc');
    expect(page).toContain('<title>cluster-control demo</title>');
    expect(page).toContain('<span class="num" id="count-web">2</span>');
    expect(page).toContain('<span class="num" id="count-db">2</span>');
    expect(page).toContain('<span id="consistency" class="badge ok">consistent</span>');
    expect(page).toContain("new EventSource('/events')");
    expect(page).not.toMatch(/(?:src|href)="(?:https?:)?\/\//);
    expect(page).toContain('<p id="empty" hidden>');
    // The script never hands report text to the HTML parser.
    expect(page).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
  });

  it('says so when there are no web servers', () => {
    const page = renderPage(buildReport('lb', new Date(0), []), 'abc');
    expect(page).toContain('<p id="empty">No web servers registered.</p>');
    expect(page).toContain('<tbody id="rows"></tbody>');
  });

  it('the policy lets only the nonce run', () => {
    expect(contentSecurityPolicy('abc')).toContain("script-src 'nonce-abc'");
    expect(contentSecurityPolicy('abc')).toContain("default-src 'none'");
  });
});
