import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Handler } from '../handler/handler.js';
import type { Member } from '../model/member.js';
import { parseMemberName } from '../model/member-name.js';
import { silentLogger } from '../util/log.js';
import { type ClusterTarget, renderedBytes } from './cluster-target.js';
import { SafeInstaller } from './safe-install.js';

function member(name: string, value = '{}'): Member {
  const parsed = parseMemberName(name);
  if (!parsed.ok) throw new Error(name);
  return { name: parsed.name, host: parsed.host, port: parsed.port, key: `/c/${name}`, meta: {}, value };
}

/** Names, one per line, between a header and a footer; `skip` values have no item (render leaves them out and reports). */
const lines: Handler<Record<string, never>> = {
  name: 'lines',
  parseOptions: () => ({}),
  render: (members, _options, context) => {
    const kept = members.filter((m) => {
      if (m.value === 'skip') context.report?.(`member ${m.name} left out`);
      return m.value !== 'skip';
    });
    return kept.length === 0 ? 'none\n' : `# é header\n${kept.map((m) => `server ${m.name} ${m.value}`).join(';\n')}\n# end\n`;
  },
  listLayout: () => ({
    head: '# é header\n',
    separator: ';\n',
    tail: '\n# end\n',
    empty: 'none\n',
    item: (m) => (m.value === 'skip' ? undefined : `server ${m.name} ${m.value}`),
  }),
};

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('SafeInstaller with a handler that has a ListLayout', () => {
  it('installs the bytes render gives, change after change, and its text reads the same', async () => {
    dir = await mkdtemp(join(tmpdir(), 'cc-layout-'));
    const target: ClusterTarget = { name: 'c', path: '/c', file: join(dir, 'out'), handler: lines, handlerOptions: {}, checkTimeoutMs: 1000, minMembers: 0 };
    const installer = new SafeInstaller(target, silentLogger);
    let list = [member('10.0.0.1:80'), member('10.0.0.2:80'), member('10.0.0.3:80')];
    const steps: ((l: Member[]) => Member[])[] = [
      (l) => l,
      (l) => [...l.slice(0, 1), member('10.0.0.15:80'), ...l.slice(1)],
      (l) => l.slice(1),
      (l) => [member('10.0.0.1:80', '{"w":1}'), ...l.slice(1)],
      (l) => [...l, member('10.0.0.9:80', 'skip')],
      (l) => l.filter((m) => m.value !== 'skip'),
      () => [],
      () => [member('10.0.0.7:80')],
    ];
    for (const step of steps) {
      list = step(list);
      const expected = lines.render(list, {}, { cluster: 'c', path: '/c' });
      const result = await installer.install(list);
      expect(['installed', 'unchanged']).toContain(result.outcome);
      expect(await readFile(target.file, 'utf8')).toBe(expected);
      expect(result.text).toBe(expected);
      const bytes = renderedBytes(result);
      if (bytes) expect(bytes.equals(Buffer.from(expected, 'utf8'))).toBe(true);
    }
  });
});
