import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '#test-support/cli.js';

const run = promisify(execFile);
const PACKAGE_DIR = resolve(import.meta.dirname, '..');

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name)));
}

// The promise: @cluster-control/handlers is published on its own, so its tarball must
// install and import without the CLI (and without core, an optional peer for the types).
describe('@cluster-control/handlers builds and packs on its own', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  it('compiles, packs dist and README only, installs with npm and imports from plain node', { timeout: 180_000 }, async () => {
    const work = await tempDir('cc-pack-');
    dirs.push(work);

    // Builds: the package's own build config, into a scratch dir (the real dist is left to
    // `turbo run build`, which other tests use meanwhile).
    const built = join(work, 'built');
    await run('npx', ['tsc', '-p', 'tsconfig.build.json', '--outDir', built], { cwd: PACKAGE_DIR });
    const builtFiles = (await filesUnder(built)).sort();
    expect(builtFiles).toContain('index.js');
    expect(builtFiles).toContain('index.d.ts');
    expect(builtFiles.filter((f) => f.includes('.test.'))).toEqual([]);

    const packs = join(work, 'packs');
    const { stdout } = await run('pnpm', ['pack', '--pack-destination', packs], { cwd: PACKAGE_DIR });
    const tarball = stdout.trim().split('\n').pop()!;
    expect(tarball).toMatch(/cluster-control-handlers-\d+\.\d+\.\d+.*\.tgz$/);

    const listing = (await run('tar', ['-tzf', tarball])).stdout.trim().split('\n').sort();
    for (const entry of listing) expect(entry).toMatch(/^package\/(package\.json|README\.md|dist\/.+)$/);
    expect(listing).toContain('package/README.md');
    // The tarball ships what the sources build (run `turbo run build` if this differs).
    expect(listing.filter((e) => e.startsWith('package/dist/')).map((e) => e.slice('package/dist/'.length))).toEqual(builtFiles);

    await run('tar', ['-xzf', tarball, '-C', work, 'package/package.json']);
    const manifest = JSON.parse(await readFile(join(work, 'package/package.json'), 'utf8')) as Record<string, Record<string, unknown> | undefined>;
    expect(Object.keys(manifest.dependencies ?? {})).toEqual(['liquidjs']);
    expect(JSON.stringify(manifest)).not.toMatch(/@cluster-control\/cli|workspace:/);
    expect(Object.keys(manifest.peerDependencies ?? {})).toEqual(['@cluster-control/core']);
    expect(manifest.peerDependenciesMeta).toEqual({ '@cluster-control/core': { optional: true } });

    const project = join(work, 'project');
    await mkdir(project);
    await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'scratch', version: '1.0.0', private: true, type: 'module' }));
    await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], { cwd: project, timeout: 150_000 });
    expect((await readdir(join(project, 'node_modules/@cluster-control'))).sort()).toEqual(['handlers']);

    const script = `
      import { builtinHandlers } from '@cluster-control/handlers';
      const member = { name: '10.0.0.5:80', host: '10.0.0.5', port: 80, key: '/clusters/web/10.0.0.5:80', meta: { weight: 3 }, value: '{"weight":3}' };
      const context = { cluster: 'web', path: '/clusters/web' };
      const json = builtinHandlers.json;
      const template = builtinHandlers.template;
      process.stdout.write(json.render([member], json.parseOptions({ format: 'objects' }), context));
      process.stdout.write(template.render([member], template.parseOptions({ template: '{% for m in members %}server {{ m.name }} weight {{ m.meta.weight }}\\n{% endfor %}' }), context));
    `;
    const out = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: project });
    expect(out.stdout).toBe('[{"name":"10.0.0.5:80","host":"10.0.0.5","port":80,"meta":{"weight":3}}]\nserver 10.0.0.5:80 weight 3\n');
  });
});
