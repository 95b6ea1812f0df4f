import { execFile } from 'node:child_process';
import { copyFile, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir, writeJson } from '#test-support/cli.js';
import { type EtcdServer, startEtcd } from '#test-support/etcd-server.js';

const run = promisify(execFile);

const CLI_DIR = resolve(import.meta.dirname, '../../packages/cli');
const EXE_DIR = join(CLI_DIR, 'dist/exe');

// The single executable (`pnpm build:exe`; npm test builds it) as an operator installs it: one file
// copied alone into an empty directory, run with no Node on PATH. The CLI's own tests run against
// it too (the `exe` project in vitest.config.ts); this checks what makes it one file.
describe('the single executable, copied alone to another machine', () => {
  let etcd: EtcdServer;
  let dir: string;
  let exe: string;
  /** No Node, npm or anything of ours on PATH: the executable must need none of it. */
  const env = () => ({ PATH: dir, HOME: dir, LANG: 'C' });

  beforeAll(async () => {
    etcd = await startEtcd();
    dir = await tempDir('cc-exe-');
    exe = join(dir, 'cluster-control');
    await copyFile(join(EXE_DIR, 'cluster-control'), exe).catch((err: Error) => {
      throw new Error(`${EXE_DIR}/cluster-control is missing: build it with \`pnpm build:exe\` (npm test does): ${err.message}`);
    });
    await run('chmod', ['755', exe]);
  });
  afterAll(async () => {
    await etcd?.dispose();
  });

  it('matches the checksum written beside it', async () => {
    const { stdout } = await run('sha256sum', ['-c', 'cluster-control.sha256'], { cwd: EXE_DIR });
    expect(stdout.trim()).toBe('cluster-control: OK');
  });

  it("prints the CLI package's version", async () => {
    const { version } = JSON.parse(await readFile(join(CLI_DIR, 'package.json'), 'utf8')) as { version: string };
    const { stdout } = await run(exe, ['--version'], { env: env(), cwd: '/' });
    expect(stdout.trim()).toBe(version);
  });

  it('registers, prepares over the gateway and over gRPC (its .proto asset), and removes the key', async () => {
    const file = join(dir, 'web.json');
    for (const transport of ['gateway', 'grpc']) {
      const conf = await writeJson(join(dir, `${transport}.conf`), {
        etcd: { endpoints: [etcd.endpoint], transport },
        self: { key: `/exe/web/10.0.0.${transport === 'grpc' ? 2 : 1}:80`, ttl: 30 },
        clusters: [{ name: 'web', path: '/exe/web', handler: 'json', handlerConfig: file }],
      });
      await run(exe, ['--conf', conf, 'heartbeat', '--once'], { env: env(), cwd: '/' });
      const { stdout } = await run(exe, ['--conf', conf, 'prepare', 'web'], { env: env(), cwd: '/' });
      expect(stdout.trim()).toMatch(/^\d+$/);
    }
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual(['10.0.0.1:80', '10.0.0.2:80']);
    await run(exe, ['--conf', join(dir, 'grpc.conf'), 'removekey'], { env: env(), cwd: '/' });
    expect(await etcd.ctl('get', '--prefix', '--keys-only', '/exe/web/')).not.toContain('10.0.0.2:80');
  });
});
