import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import { mkdir, readFile, readdir, rm, symlink } from 'node:fs/promises';
import { delimiter, dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir, waitFor, writeJson } from '#test-support/cli.js';
import { type EtcdServer, haveEtcd, startEtcd } from '#test-support/etcd-server.js';

const run = promisify(execFile);

const ROOT = resolve(import.meta.dirname, '../..');
const PACKAGES = ['core', 'handlers', 'cli'] as const;

/** pnpm on PATH, or the copy scripts/bootstrap.sh keeps in .tools when npm's global prefix is not writable. */
function pnpmBin(): string {
  const local = join(ROOT, '.tools/node_modules/.bin/pnpm');
  const onPath = (process.env.PATH ?? '').split(delimiter).some((d) => d && existsSync(join(d, 'pnpm')));
  return onPath || !existsSync(local) ? 'pnpm' : local;
}

/**
 * The environment the installed bin and npm run in: this test's node first on PATH (the bin is
 * `#!/usr/bin/env node`), and nothing that could make them find the workspace's modules.
 */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    // npm and pnpm running this test pass their configuration down as npm_config_*: the prefix,
    // global and workspace settings must not leak into the install under test.
    if (/^(npm_|pnpm_|NODE_PATH$|NODE_OPTIONS$)/i.test(k) && !/^npm_config_(cache|registry|userconfig|proxy|https_proxy|noproxy|strict_ssl|cafile)$/i.test(k)) continue;
    env[k] = v;
  }
  env.PATH = [dirname(process.execPath), env.PATH].filter(Boolean).join(delimiter);
  return env;
}

// `npm install -g @cluster-control/cli` from the packed tarballs (the packages are not published),
// then the installed bin used as an operator would. Our three packages must come from the tarballs:
// npm still asks a registry about cli's dependencies on core and handlers before it settles for the
// tarballs installed beside it, so their scope's registry is a local server that knows no package
// (404, as the public registry answers today, and whatever gets published there later). Third-party
// dependencies come from npm's cache (--prefer-offline) or registry.
describe.skipIf(!haveEtcd)('npm install -g from the packed tarballs', () => {
  let dir: string;
  let prefix: string;
  let bin: string;
  let tarballs: Record<(typeof PACKAGES)[number], string>;
  let etcd: EtcdServer | undefined;
  let registry: Server | undefined;
  const asked: string[] = [];
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    for (const p of PACKAGES) {
      if (!existsSync(join(ROOT, 'packages', p, 'dist/index.js'))) throw new Error(`packages/${p}/dist is missing: run \`npx turbo run build\` first (npm test does)`);
    }
    dir = await tempDir('cc-install-');
    const packs = join(dir, 'tarballs');
    prefix = join(dir, 'prefix');
    await mkdir(packs);
    // `turbo run build` ran before the tests: pack what it built, without prepack building again.
    await Promise.all(PACKAGES.map((p) => run(pnpmBin(), ['pack', '--config.ignore-scripts=true', '--pack-destination', packs], { cwd: join(ROOT, 'packages', p), env: process.env })));
    const files = await readdir(packs);
    const find = (p: string) => {
      const file = files.find((f) => new RegExp(`^cluster-control-${p}-\\d+\\.\\d+\\.\\d+.*\\.tgz$`).test(f));
      if (!file) throw new Error(`no tarball for ${p} in ${files.join(', ')}`);
      return join(packs, file);
    };
    tarballs = { core: find('core'), handlers: find('handlers'), cli: find('cli') };
    const scope = createServer((req, res) => {
      asked.push(`${req.method} ${decodeURIComponent(req.url ?? '')}`);
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"Not found"}');
    });
    registry = scope;
    await new Promise<void>((r) => scope.listen(0, '127.0.0.1', r));
    const { port } = scope.address() as { port: number };
    await run(
      'npm',
      [
        'install',
        '--global',
        '--prefix',
        prefix,
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        '--loglevel=error',
        // No @cluster-control/* can come from a registry.
        `--@cluster-control:registry=http://127.0.0.1:${port}/`,
        tarballs.core,
        tarballs.handlers,
        tarballs.cli,
      ],
      { cwd: dir, env: cleanEnv(), timeout: 40_000 },
    );
    bin = join(prefix, 'bin/cluster-control');
    etcd = await startEtcd();
  }, 60_000);

  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    await etcd?.dispose();
    registry?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const cli = async (args: string[]) => {
    const { stdout, stderr } = await run(bin, args, { cwd: dir, env: cleanEnv(), timeout: 20_000 });
    return { stdout, stderr };
  };

  it('the tarballs hold what runs and nothing of the workspace', async () => {
    for (const p of PACKAGES) {
      const { stdout } = await run('tar', ['-tzf', tarballs[p]]);
      const entries = stdout.split('\n').filter(Boolean);
      expect(entries).toContain('package/package.json');
      expect(entries).toContain('package/dist/index.js');
      expect(entries.filter((e) => /^package\/(src|node_modules)\/|\.test\.(js|ts)$|tsbuildinfo/.test(e))).toEqual([]);
      const manifest = JSON.parse((await run('tar', ['-xzOf', tarballs[p], 'package/package.json'])).stdout) as Record<string, unknown>;
      // pnpm pack rewrote workspace:^ to the real version.
      expect(JSON.stringify(manifest)).not.toContain('workspace:');
    }
    const { stdout } = await run('tar', ['-tzf', tarballs.cli]);
    expect(stdout).toContain('package/bin.cjs');
    expect(stdout).toContain('package/contrib/systemd/cluster-control-watch.service');
    expect(stdout).toContain('package/contrib/systemd/cluster-control-run@.service');
  });

  it('installs the bin, with our packages from the tarballs only', async () => {
    const version = (JSON.parse(await readFile(join(ROOT, 'packages/cli/package.json'), 'utf8')) as { version: string }).version;
    expect((await cli(['--version'])).stdout.trim()).toBe(version);
    const installed = join(prefix, 'lib/node_modules/@cluster-control');
    expect((await readdir(installed)).sort()).toEqual(['cli', 'core', 'handlers']);
    // npm asked the scope's registry about core and handlers (and heard 404), and fetched nothing.
    expect(asked.every((a) => /^GET \/@cluster-control\/(core|handlers)$/.test(a))).toBe(true);
    // No second copy of core or handlers nested under cli.
    expect(existsSync(join(installed, 'cli/node_modules/@cluster-control'))).toBe(false);
    expect(existsSync(join(installed, 'cli/contrib/systemd/cluster-control-watch.service'))).toBe(true);
  });

  it('imports every entry in the exports map of each installed package, each with exports', async () => {
    // A project whose node_modules is the global install's: imports resolve as an application's would.
    const project = join(dir, 'importer');
    await mkdir(project);
    await symlink(join(prefix, 'lib/node_modules'), join(project, 'node_modules'), 'dir');
    const exportsOf = async (p: string) => {
      const manifest = JSON.parse(await readFile(join(prefix, 'lib/node_modules/@cluster-control', p, 'package.json'), 'utf8')) as { exports: Record<string, unknown> };
      return Object.keys(manifest.exports).filter((entry) => entry !== './package.json');
    };
    const importNames = async (specifier: string) => {
      const script = `const m = await import(${JSON.stringify(specifier)}); console.log(JSON.stringify(Object.keys(m)));`;
      const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: project, env: cleanEnv(), timeout: 20_000 });
      return JSON.parse(stdout) as string[];
    };
    const counts: Record<string, number> = {};
    for (const p of PACKAGES) {
      // The installed manifest lists what the workspace's does.
      const source = JSON.parse(await readFile(join(ROOT, 'packages', p, 'package.json'), 'utf8')) as { exports: Record<string, unknown> };
      const entries = await exportsOf(p);
      expect(entries).toEqual(Object.keys(source.exports).filter((entry) => entry !== './package.json'));
      for (const entry of entries) {
        const specifier = entry === '.' ? `@cluster-control/${p}` : `@cluster-control/${p}/${entry.slice(2)}`;
        counts[specifier] = (await importNames(specifier)).length;
      }
    }
    expect(Object.keys(counts)).toContain('@cluster-control/core/etcd');
    for (const [specifier, count] of Object.entries(counts)) expect(count, specifier).toBeGreaterThan(0);
    // The cli package is its bin only.
    expect(await exportsOf('cli')).toEqual([]);
    await expect(importNames('@cluster-control/cli')).rejects.toThrow(/ERR_PACKAGE_PATH_NOT_EXPORTED/);
  });

  it('prepare prints the revision and writes the file; watch applies a put', async () => {
    const etcdServer = etcd!;
    const work = join(dir, 'work');
    await mkdir(work);
    const file = join(work, 'web.json');
    const conf = await writeJson(join(work, 'cluster-control.conf'), {
      etcd: { endpoints: [etcdServer.endpoint] },
      clusters: [{ name: 'web', path: '/clusters/web', handler: 'json', handlerConfig: file }],
    });
    await etcdServer.ctl('put', '/clusters/web/10.0.0.1:80', '');

    const prepared = await cli(['--conf', conf, 'prepare', 'web']);
    const revision = prepared.stdout.trim();
    expect(revision).toMatch(/^\d+$/);
    expect(BigInt(revision)).toBe(await etcdServer.revision());
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual(['10.0.0.1:80']);

    const watcher = spawn(bin, ['--conf', conf, 'watch', 'web', revision], { cwd: dir, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(watcher);
    let stderr = '';
    watcher.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((r) => watcher.once('close', (code) => r(code)));
    await waitFor(() => /in sync at revision/.test(stderr), { timeoutMs: 20_000, what: `watch in sync; stderr:\n${stderr}` });
    await etcdServer.ctl('put', '/clusters/web/10.0.0.2:80', '');
    await waitFor(async () => JSON.stringify(JSON.parse(await readFile(file, 'utf8'))) === JSON.stringify(['10.0.0.1:80', '10.0.0.2:80']), {
      timeoutMs: 20_000,
      what: `the put applied to ${file}; stderr:\n${stderr}`,
    });
    watcher.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
