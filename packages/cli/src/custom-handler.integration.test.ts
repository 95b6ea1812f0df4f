import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliProcess, runCli, spawnCli, tempDir, waitFor, writeJson } from '#test-support/cli.js';
import { type EtcdServer, haveEtcd, startEtcd } from '#test-support/etcd-server.js';

// README: Configuration: `handler` may be a module path, resolved against the config file's
// directory. A third party's handler, as it would write one: plain ESM, no imports from
// cluster-control.
const HANDLER_MODULE = `
export const handler = {
  name: 'lines',
  parseOptions(raw) {
    const { prefix = '', ...rest } = raw;
    const unknown = Object.keys(rest)[0];
    if (unknown !== undefined) throw Object.assign(new Error(\`\${unknown}: unknown option\`), { name: 'HandlerOptionsError', path: unknown });
    if (typeof prefix !== 'string' || /[\\n\\r]/.test(prefix)) throw Object.assign(new Error('prefix: must be a one-line string'), { name: 'HandlerOptionsError', path: 'prefix' });
    return { prefix };
  },
  render(members, options, context) {
    const lines = members.map((m) => \`\${options.prefix}\${m.name} \${m.meta.zone ?? '-'}\`);
    return [\`# \${context.cluster} \${context.path}\`, ...lines, ''].join('\\n');
  },
};
`;

/** One line on stderr, exit 2, no stack trace. */
function expectConfigError(res: { code: number | null; stdout: string; stderr: string }, pattern: RegExp) {
  expect(res.code).toBe(2);
  expect(res.stdout).toBe('');
  const lines = res.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  expect(res.stderr).not.toMatch(/\n\s+at /);
}

describe.skipIf(!haveEtcd)('a custom handler loaded by module path from the config file', () => {
  let etcd: EtcdServer;
  const running: CliProcess[] = [];
  beforeAll(async () => {
    etcd = await startEtcd();
  });
  afterAll(async () => {
    for (const p of running) p.kill('SIGKILL');
    await etcd?.dispose();
  });

  it('renders through prepare and watch, with its own options', async () => {
    const dir = await tempDir('cc-custom-');
    await writeFile(join(dir, 'my-handler.mjs'), HANDLER_MODULE);
    // Relative paths (the module and the output file) are resolved against the config's directory,
    // so run from elsewhere.
    const conf = await writeJson(join(dir, 'cluster-control.conf'), {
      etcd: { endpoints: [etcd.endpoint] },
      clusters: [{ name: 'web', path: '/clusters/custom', handler: './my-handler.mjs', handlerConfig: { file: 'web.txt', prefix: 'server ' } }],
    });
    const file = join(dir, 'web.txt');
    await etcd.ctl('put', '/clusters/custom/10.0.0.5:80', JSON.stringify({ zone: 'a' }));

    const prepared = await runCli(['--conf', conf, 'prepare', 'web'], { cwd: '/' });
    expect(prepared.stderr).not.toMatch(/error|warn/i);
    expect(prepared.code).toBe(0);
    expect(prepared.stdout).toMatch(/^\d+\n$/);
    expect(await readFile(file, 'utf8')).toBe('# web /clusters/custom\nserver 10.0.0.5:80 a\n');

    await etcd.ctl('put', '/clusters/custom/10.0.0.6:80', '');
    const watcher = spawnCli(['--conf', conf, 'watch', 'web', prepared.stdout.trim()], { cwd: '/' });
    running.push(watcher);
    await watcher.waitForLog(/in sync at revision/);
    // The change made between prepare and watch arrives.
    await waitFor(async () => (await readFile(file, 'utf8')).includes('10.0.0.6:80'), { what: 'the member put before watch started' });
    expect(await readFile(file, 'utf8')).toBe('# web /clusters/custom\nserver 10.0.0.5:80 a\nserver 10.0.0.6:80 -\n');

    await etcd.ctl('del', '/clusters/custom/10.0.0.5:80');
    await waitFor(async () => (await readFile(file, 'utf8')) === '# web /clusters/custom\nserver 10.0.0.6:80 -\n', { what: 'the deletion' });
    watcher.kill('SIGTERM');
    expect((await watcher.exited()).code).toBe(0);
  });

  it('takes a default export by absolute path', async () => {
    const dir = await tempDir('cc-custom-');
    const module = join(dir, 'default-handler.mjs');
    await writeFile(module, HANDLER_MODULE.replace('export const handler =', 'export default'));
    const conf = await writeJson(join(dir, 'cc.conf'), {
      etcd: { endpoints: [etcd.endpoint] },
      clusters: [{ name: 'web', path: '/clusters/custom-default', handler: module, handlerConfig: join(dir, 'web.txt') }],
    });
    await etcd.ctl('put', '/clusters/custom-default/web-1', '');
    const prepared = await runCli(['--conf', conf, 'prepare', 'web']);
    expect(prepared.code).toBe(0);
    expect(await readFile(join(dir, 'web.txt'), 'utf8')).toBe('# web /clusters/custom-default\nweb-1 -\n');
  });
});

describe('a custom handler that cannot be used: exit 2, one line naming the field', () => {
  async function setup(moduleText: string | undefined, handlerConfig: Record<string, unknown> = { file: 'web.txt' }) {
    const dir = await tempDir('cc-custom-');
    if (moduleText !== undefined) await writeFile(join(dir, 'my-handler.mjs'), moduleText);
    const conf = await writeJson(join(dir, 'cc.conf'), { clusters: [{ name: 'web', path: '/clusters/web', handler: './my-handler.mjs', handlerConfig }] });
    return runCli(['--conf', conf, 'prepare', 'web']);
  }

  it('a module without a handler export', async () => {
    expectConfigError(await setup('export const notAHandler = { name: "x" };\nexport default 42;\n'), /cc\.conf: clusters\[0\]\.handler: module "\.\/my-handler\.mjs" exports no handler/);
  });

  it('a module that is missing', async () => {
    expectConfigError(await setup(undefined), /cc\.conf: clusters\[0\]\.handler: could not load handler module "\.\/my-handler\.mjs"/);
  });

  it('a module that fails to load', async () => {
    expectConfigError(await setup('export const handler = {\n'), /cc\.conf: clusters\[0\]\.handler: could not load handler module "\.\/my-handler\.mjs": /);
    expectConfigError(await setup('throw new Error("no\\nway");\n'), /cc\.conf: clusters\[0\]\.handler: could not load handler module "\.\/my-handler\.mjs": no way$/);
  });

  it("the handler's own options errors name the option", async () => {
    expectConfigError(await setup(HANDLER_MODULE, { file: 'web.txt', prefix: 'a\nb' }), /cc\.conf: clusters\[0\]\.handlerConfig\.prefix: must be a one-line string$/);
    expectConfigError(await setup(HANDLER_MODULE, { file: 'web.txt', colour: 'red' }), /cc\.conf: clusters\[0\]\.handlerConfig\.colour: unknown option$/);
  });
});
