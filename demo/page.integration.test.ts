// The load balancer's page in a real browser (playwright-core driving Debian's chromium) against
// the real demo cluster (demo/cluster.mjs: etcd, 1 lb, 2 web servers, 1 database): one row per web
// server, live updates over server-sent events without a reload, disagreeing rows marked; and the
// fleet table (README: Is the fleet in step?): every watcher of both clusters with its state and
// applied revision, from their status records, agreeing with `cluster-control status --wait`.
// Screenshots go to test-artifacts/ (gitignored).

import { mkdir } from 'node:fs/promises';
import { type Server, createServer } from 'node:http';
import { join } from 'node:path';
import { type Browser, type Page, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveEtcd } from '#test-support/etcd-server.js';
import { haveServer } from '#test-support/server-process.js';
import { DemoCluster, ROOT, freePort } from './cluster.mjs';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(ROOT, 'test-artifacts');
const TTL = 3;
const haveEtcdToUse = Boolean(process.env.CLUSTER_CONTROL_ETCD) || haveEtcd;

interface Row {
  web: string | undefined;
  /** The database ids shown in the row (db-N), sorted. */
  ids: string[];
  disagrees: boolean;
}

/** The table as the page shows it now. */
function rows(page: Page): Promise<Row[]> {
  return page.$$eval('.row', (els) =>
    els.map((el) => ({
      web: (el as HTMLElement).dataset.web,
      // Every element's own text, split on spaces and commas: ids in chips or in a list both count.
      ids: [
        ...new Set(
          [el, ...Array.from(el.querySelectorAll('*'))]
            .flatMap((e) =>
              Array.from(e.childNodes)
                .filter((n) => n.nodeType === Node.TEXT_NODE)
                .map((n) => n.textContent ?? ''),
            )
            .flatMap((text) => text.split(/[\s,]+/))
            .filter((token) => /^db-\d+$/.test(token)),
        ),
      ].sort(),
      disagrees: el.classList.contains('disagrees'),
    })),
  );
}

interface WatcherRow {
  cluster: string | undefined;
  pid: number;
  /** The state as shown (the cell's text) and as the row's data-state. */
  state: string;
  dataState: string | undefined;
  applied: bigint;
  members: number;
}

/** The fleet table as the page shows it now, sorted by cluster and pid. */
async function fleetRows(page: Page): Promise<WatcherRow[]> {
  const raw = await page.$$eval('#fleet tr.watcher', (els) =>
    els.map((el) => {
      const e = el as HTMLElement;
      return {
        cluster: e.dataset.cluster,
        pid: Number(e.dataset.pid),
        state: e.querySelector('td.state .state')?.textContent ?? '',
        dataState: e.dataset.state,
        applied: e.querySelector('td.applied')?.textContent ?? '',
        members: Number(e.querySelector('td.members')?.textContent),
      };
    }),
  );
  return raw.map((r) => ({ ...r, applied: BigInt(r.applied || '0') })).sort((a, b) => String(a.cluster).localeCompare(String(b.cluster)) || a.pid - b.pid);
}

const expected = (webs: string[], ids: string[]): Row[] => [...webs].sort().map((web) => ({ web, ids, disagrees: false }));
const sortedRows = async (page: Page) => (await rows(page)).sort((a, b) => String(a.web).localeCompare(String(b.web)));

describe.skipIf(!haveServer(CHROMIUM) || !haveEtcdToUse)('the load balancer page (demo cluster, chromium)', () => {
  let cluster: DemoCluster | undefined;
  let browser: Browser | undefined;
  let page: Page;
  /** Main-frame navigations after the first load: must stay empty (no reloads). */
  const navigations: string[] = [];

  beforeAll(async () => {
    // Constructed before starting, so afterAll can clean up a half-started cluster.
    cluster = new DemoCluster({ ttl: TTL });
    await cluster.start({ webs: 2, dbs: 1 });
    await cluster.waitConverged({ webs: 2, dbs: 1 });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-background-networking', '--disable-gpu', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    page = await browser.newPage({ viewport: { width: 1100, height: 640 } });
    await page.goto(cluster.pageUrl!);
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) navigations.push(frame.url());
    });
  });

  afterAll(async () => {
    try {
      await browser?.close();
    } finally {
      await cluster?.shutdown();
    }
  });

  it('shows one row per web server with the database id, and updates every row live when a database joins', async () => {
    const c = cluster!;
    const webs = c.liveWebs().map((w) => w.name);
    expect(webs).toHaveLength(2);
    await expect.poll(() => sortedRows(page), { timeout: 10_000 }).toEqual(expected(webs, ['db-1']));

    await page.evaluate(() => {
      (window as unknown as { __marker: number }).__marker = 1;
    });
    const db = await c.addDb();
    expect(db.id).toBe('db-2');
    await expect.poll(() => sortedRows(page), { timeout: 20_000 }).toEqual(expected(webs, ['db-1', 'db-2']));
    // The same document: updated through server-sent events, not reloaded.
    expect(await page.evaluate(() => (window as unknown as { __marker?: number }).__marker)).toBe(1);
    expect(navigations).toEqual([]);
    await c.waitConverged({ webs: 2, dbs: 2 });

    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'demo-lb-page.png'), fullPage: true, animations: 'disabled' });
  });

  it('marks a web server that disagrees (and escapes what it reports)', async () => {
    const c = cluster!;
    const webs = c.liveWebs().map((w) => w.name);
    // A misconfigured "web server": registered by hand, it reports a database nobody else sees,
    // with markup in its id that must reach the page as text.
    const host = '127.0.0.29';
    const port = await freePort(host);
    const name = `${host}:${port}`;
    const rogue: Server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ name, databases: [{ name: '127.0.0.39:1', id: 'db-9<img id=injected src=x>' }] }));
    });
    await new Promise<void>((r) => rogue.listen(port, host, r));
    try {
      await c.putKey(`webserver/${name}`, '{}');
      await expect
        .poll(async () => (await sortedRows(page)).map((r) => `${r.web} ${r.disagrees ? 'disagrees' : 'agrees'}`), { timeout: 20_000 })
        .toEqual([...webs, name].sort().map((w) => `${w} ${w === name ? 'disagrees' : 'agrees'}`));
      // Visibly marked: the disagreeing row does not look like the others.
      const look = (web: string) =>
        page.$eval(`.row[data-web="${web}"]`, (el) => {
          const style = getComputedStyle(el);
          const cell = el.firstElementChild ? getComputedStyle(el.firstElementChild) : style;
          return `${style.backgroundColor} ${style.color} ${cell.backgroundColor} ${cell.color}`;
        });
      expect(await look(name)).not.toBe(await look(webs[0]!));
      expect(await page.$('#injected')).toBeNull();
      expect(await page.textContent(`.row[data-web="${name}"]`)).toContain('<img id=injected src=x>');
      const report = await c.report();
      expect(report.consistent).toBe(false);
      expect(report.webServers.find((w) => w.name === name)?.agrees).toBe(false);
      await page.screenshot({ path: join(ARTIFACTS, 'demo-lb-page-disagrees.png'), fullPage: true, animations: 'disabled' });
    } finally {
      await c.deleteKey(`webserver/${name}`);
      await new Promise((r) => rogue.close(r));
    }
    // Gone again, live.
    await expect.poll(() => sortedRows(page), { timeout: 20_000 }).toEqual(expected(webs, ['db-1', 'db-2']));
    expect(await page.evaluate(() => (window as unknown as { __marker?: number }).__marker)).toBe(1);
    expect(navigations).toEqual([]);
    await c.waitConverged({ webs: 2, dbs: 2 });
  });

  it('shows the fleet table: every watcher of both clusters SYNCED at the newest change, updating live, as status --wait sees it', async () => {
    const c = cluster!;
    const pids = (kind: string) =>
      c.apps
        .filter((a) => a.kind === kind && a.running)
        .map((a) => a.pid!)
        .sort((a, b) => a - b);
    const lbPid = c.lb!.pid!;
    const webPids = pids('web');
    expect(webPids).toHaveLength(2);
    /** What the table must show once every watcher applied the newest change of its cluster. */
    const settled = async () => {
      const newest = { webservers: await c.newestRevision('webserver'), dbservers: await c.newestRevision('dbserver') };
      const rows = await fleetRows(page);
      return rows.map((r) => ({
        cluster: r.cluster,
        pid: r.pid,
        state: r.state,
        dataState: r.dataState,
        caughtUp: r.applied >= newest[r.cluster as keyof typeof newest],
        members: r.members,
      }));
    };
    const want = (dbs: number) => [
      ...webPids.map((pid) => ({ cluster: 'dbservers', pid, state: 'SYNCED', dataState: 'SYNCED', caughtUp: true, members: dbs })),
      // The lb's watcher of the web servers (the rogue one of the test before is gone again).
      { cluster: 'webservers', pid: lbPid, state: 'SYNCED', dataState: 'SYNCED', caughtUp: true, members: 2 },
    ];
    await expect.poll(() => settled(), { timeout: 20_000 }).toEqual(want(2));
    const before = (await fleetRows(page)).filter((r) => r.cluster === 'dbservers').map((r) => r.applied);

    // A third database: both web servers' rows move to its revision, live (no reload of the page).
    await c.addDb();
    const revision = await c.newestRevision('dbserver');
    expect(revision).toBeGreaterThan(before.reduce((a, b) => (a > b ? a : b)));
    await expect.poll(() => settled(), { timeout: 20_000 }).toEqual(want(3));
    expect(navigations).toEqual([]);
    // The CLI agrees: status --wait for that revision exits 0 with the same two watchers, SYNCED.
    const run = await c.statusWait('dbservers', { revision, expect: 2, timeoutS: 10 });
    expect(run.code, run.stderr).toBe(0);
    expect(run.watchers.map((w) => [w.pid, w.state]).sort((a, b) => Number(a[0]) - Number(b[0]))).toEqual(webPids.map((pid) => [pid, 'SYNCED']));
    // And /fleet.json (what the events carry) says the same.
    const fleet = await c.fleet();
    expect(fleet.clusters.map((cl) => [cl.name, cl.watchers.length, cl.watchers.every((w) => w.state === 'SYNCED')])).toEqual([
      ['webservers', 1, true],
      ['dbservers', 2, true],
    ]);
    await c.waitConverged({ webs: 2, dbs: 3 });
    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'demo-lb-page-fleet.png'), fullPage: true, animations: 'disabled' });
  });
});
