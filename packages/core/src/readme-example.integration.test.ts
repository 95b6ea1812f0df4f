import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir, waitFor, writeJson } from '#test-support/cli.js';
import { type EtcdServer, haveEtcd, startEtcd } from '#test-support/etcd-server.js';

// The embedding example in this package's README.md (the block fenced ```ts example), exactly as
// written: type-checked against the built packages, compiled, and run with node against a real
// etcd. The configuration comes from CLUSTER_CONTROL_CONF and the endpoint from
// CLUSTER_CONTROL_ETCD, as the README says; PORT=0 picks a free port.

const root = resolve(import.meta.dirname, '../../..');

/** The README's ```ts example block. */
function exampleFrom(readme: string): string {
  const blocks = [...readme.matchAll(/^```ts example\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
  if (blocks.length !== 1) throw new Error(`expected one \`\`\`ts example block in README.md, found ${blocks.length}`);
  return blocks[0]!;
}

describe.skipIf(!haveEtcd)('the README embedding example', () => {
  let etcd: EtcdServer;
  let dir: string;
  let script: string;
  let child: ChildProcess | undefined;
  let output = '';

  beforeAll(async () => {
    etcd = await startEtcd();
    dir = await tempDir('cc-readme-example-');
    // The app's own project: the example beside links to the built workspace packages.
    await mkdir(join(dir, 'node_modules/@cluster-control'), { recursive: true });
    await symlink(join(root, 'packages/core'), join(dir, 'node_modules/@cluster-control/core'));
    await symlink(join(root, 'packages/handlers'), join(dir, 'node_modules/@cluster-control/handlers'));
    await symlink(join(root, 'node_modules/@types'), join(dir, 'node_modules/@types'));
    await writeJson(join(dir, 'package.json'), { name: 'my-app', private: true, type: 'module' });
    await writeFile(join(dir, 'example.ts'), exampleFrom(await readFile(join(root, 'packages/core/README.md'), 'utf8')));
    script = join(dir, 'example.js');
  });
  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await etcd?.dispose();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('type-checks under the repository compiler options and compiles', () => {
    const program = ts.createProgram([join(dir, 'example.ts')], {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      strict: true,
      noUncheckedIndexedAccess: true,
      skipLibCheck: true,
      types: ['node'],
      outDir: dir,
    });
    const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    expect(diagnostics).toEqual([]);
    expect(program.emit().emitSkipped).toBe(false);
  }, 60_000);

  it('keeps the backends file current, registers self.key, and deregisters on SIGTERM', async () => {
    const file = join(dir, 'backends.json');
    const selfKey = '/clusters/app/10.0.0.7:8080';
    const conf = await writeJson(join(dir, 'cluster-control.conf'), {
      etcd: { endpoints: ['http://127.0.0.1:1'] },
      self: { key: selfKey, ttl: 10 },
      clusters: [{ name: 'backends', path: '/clusters/backends', handler: 'json', handlerConfig: { file } }],
    });
    await etcd.ctl('put', '/clusters/backends/10.0.0.1:80', '{}');

    child = spawn(process.execPath, [script], {
      cwd: dir,
      env: { ...process.env, CLUSTER_CONTROL_CONF: conf, CLUSTER_CONTROL_ETCD: etcd.endpoint, PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (output += b.toString()));
    const exited = new Promise<number | null>((res) => child!.once('exit', (code) => res(code)));
    const alive = () => {
      if (child!.exitCode !== null) throw new Error(`the example exited ${child!.exitCode}: ${output}`);
    };

    const registered = async () => (await etcd.ctl('get', selfKey, '--keys-only')).trim() === selfKey;
    await waitFor(async () => (alive(), await registered()), { what: 'self.key registered' });
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual(['10.0.0.1:80']);

    await etcd.ctl('put', '/clusters/backends/10.0.0.2:80', '{"weight":2}');
    await waitFor(async () => (alive(), JSON.parse(await readFile(file, 'utf8')).length === 2), { what: 'the new member in the file' });
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual(['10.0.0.1:80', '10.0.0.2:80']);

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(await registered()).toBe(false);
  }, 60_000);
});
