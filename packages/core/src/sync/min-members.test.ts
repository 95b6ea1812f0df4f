import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AnyHandler } from '../handler/handler.js';
import type { Member } from '../model/member.js';
import { parseMemberName } from '../model/member-name.js';
import type { Logger } from '../util/log.js';
import { type ClusterTarget, renderAndInstallDetailed } from './cluster-target.js';
import { SafeInstaller } from './safe-install.js';

function member(name: string): Member {
  const parsed = parseMemberName(name);
  if (!parsed.ok) throw new Error(name);
  return { name: parsed.name, host: parsed.host, port: parsed.port, key: `/c/${name}`, meta: {}, value: '' };
}

/** Like nginx's: an empty upstream gets a placeholder. */
const upstream: AnyHandler = {
  name: 'upstream',
  parseOptions: (o) => o,
  render: (ms) => (ms.length === 0 ? 'server 127.0.0.1:1 down;\n' : ms.map((m) => `server ${m.name};\n`).join('')),
};
/** Like redis's: no form for an empty pool. */
const noEmptyForm: AnyHandler = {
  name: 'pool',
  parseOptions: (o) => o,
  render: (ms) => {
    if (ms.length === 0) throw new Error('no member to write');
    return ms.map((m) => m.name).join('\n');
  },
};

function recorder(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const at = (level: string) => (m: string) => lines.push(`${level}: ${m}`);
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

async function target(handler: AnyHandler, extra: Partial<ClusterTarget> = {}): Promise<ClusterTarget> {
  const dir = await mkdtemp(join(tmpdir(), 'cc-min-'));
  return { name: 'web', path: '/c', file: join(dir, 'web.conf'), handler, handlerOptions: {}, checkTimeoutMs: 5000, minMembers: 2, ...extra };
}

describe('minMembers', () => {
  it('with no file yet, writes the empty form and says so (outcome still refused)', async () => {
    const t = await target(upstream);
    const logger = recorder();
    const result = await renderAndInstallDetailed(t, [member('10.0.0.1:80')], logger);
    expect(result).toMatchObject({ outcome: 'refused', stage: 'min-members', wroteEmpty: true, text: 'server 127.0.0.1:1 down;\n' });
    expect(await readFile(t.file, 'utf8')).toBe('server 127.0.0.1:1 down;\n');
    expect(logger.lines.filter((l) => !l.startsWith('debug:'))).toEqual([`warn: web: 1 member(s), fewer than minMembers 2; ${t.file} did not exist: wrote it with no members, until there are enough`]);
  });

  it('with a file already there, leaves it as it is', async () => {
    const t = await target(upstream);
    await writeFile(t.file, 'server 10.0.0.1:80;\nserver 10.0.0.2:80;\n');
    const logger = recorder();
    const result = await renderAndInstallDetailed(t, [member('10.0.0.1:80')], logger);
    expect(result).toEqual({ outcome: 'refused', stage: 'min-members', reason: '1 member(s), fewer than minMembers 2' });
    expect(await readFile(t.file, 'utf8')).toBe('server 10.0.0.1:80;\nserver 10.0.0.2:80;\n');
    expect(logger.lines).toEqual([`warn: web: refusing to install 1 member(s), fewer than minMembers 2; ${t.file} left as it is`]);
  });

  it('a handler with no empty form leaves no file, and says why', async () => {
    const t = await target(noEmptyForm);
    const logger = recorder();
    const result = await renderAndInstallDetailed(t, [], logger);
    expect(result).toEqual({ outcome: 'refused', stage: 'min-members', reason: '0 member(s), fewer than minMembers 2' });
    await expect(readFile(t.file)).rejects.toThrow(/ENOENT/);
    expect(logger.lines.join('\n')).toMatch(/does not exist and its empty form cannot be written either: handler pool failed to render: no member to write/);
  });

  it('the check judges the empty form like any file', async () => {
    const t = await target(upstream, { check: ['sh', '-c', 'echo "no down servers here" >&2; exit 1'] });
    const logger = recorder();
    const result = await renderAndInstallDetailed(t, [], logger);
    expect(result.wroteEmpty).toBeUndefined();
    await expect(readFile(t.file)).rejects.toThrow(/ENOENT/);
    expect(logger.lines.join('\n')).toMatch(/its check refused the empty form: .*no down servers here/);
  });

  it('SafeInstaller passes it on; once written, the next refusal keeps the file', async () => {
    const t = await target(upstream);
    const installer = new SafeInstaller(t, recorder());
    expect(await installer.install([member('10.0.0.1:80')])).toMatchObject({ outcome: 'refused', wroteEmpty: true, installed: [] });
    expect((await installer.install([member('10.0.0.2:80')])).wroteEmpty).toBeUndefined();
    expect(await readFile(t.file, 'utf8')).toBe('server 127.0.0.1:1 down;\n');
    expect(await installer.install([member('10.0.0.1:80'), member('10.0.0.2:80')])).toMatchObject({ outcome: 'installed' });
    expect(await readFile(t.file, 'utf8')).toBe('server 10.0.0.1:80;\nserver 10.0.0.2:80;\n');
  });
});
