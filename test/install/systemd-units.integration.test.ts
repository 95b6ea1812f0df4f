import { execFile } from 'node:child_process';
import { mkdir, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_BIN, tempDir } from '#test-support/cli.js';
import { haveServer } from '#test-support/server-process.js';

const run = promisify(execFile);

const SYSTEMD_ANALYZE = process.env.SYSTEMD_ANALYZE_BIN ?? '/usr/bin/systemd-analyze';
/** Installed by scripts/bootstrap.sh --servers (Debian's systemd); under CI=true a missing one fails. */
const haveSystemdAnalyze = haveServer(SYSTEMD_ANALYZE);

const UNITS_DIR = resolve(import.meta.dirname, '../../packages/cli/contrib/systemd');
/** Where the units expect `npm install -g` to have put the bin. */
const INSTALLED_BIN = '/usr/local/bin/cluster-control';

interface Verified {
  code: number;
  /** Lines of systemd-analyze's output about this unit (other units' warnings left out). */
  lines: string[];
}

// The shipped units as systemd itself reads them: `systemd-analyze verify` parses every directive,
// reports unknown keys and bad values, and checks that each Exec*= command is an executable file.
describe.skipIf(!haveSystemdAnalyze)('systemd units (packages/cli/contrib/systemd)', () => {
  let dir: string;
  let units: string[];

  beforeAll(async () => {
    units = (await readdir(UNITS_DIR)).filter((f) => f.endsWith('.service')).sort();
    dir = await tempDir('cc-units-');
    // The units name /usr/local/bin/cluster-control; here that is a symlink to the built bin.
    await mkdir(join(dir, 'bin'));
    const bin = join(dir, 'bin/cluster-control');
    await symlink(CLI_BIN, bin);
    for (const unit of units) {
      const text = await readFile(join(UNITS_DIR, unit), 'utf8');
      await writeFile(join(dir, unit), text.replaceAll(INSTALLED_BIN, bin));
    }
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function verify(unit: string): Promise<Verified> {
    const name = unit.replace(/\.service$/, '').replace(/@.*$/, '@');
    try {
      const { stdout, stderr } = await run(SYSTEMD_ANALYZE, ['verify', '--man=no', join(dir, unit)], { cwd: dir });
      return { code: 0, lines: about(name, stdout + stderr) };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof e.code === 'number' ? e.code : -1, lines: about(name, `${e.stdout ?? ''}${e.stderr ?? ''}`) };
    }
  }
  const about = (name: string, output: string) => output.split('\n').filter((l) => l.includes(name));

  it('ships a watch unit and a run template', () => {
    expect(units).toEqual(['cluster-control-run@.service', 'cluster-control-watch.service']);
  });

  it('systemd-analyze verify passes both units (and an instance of the template) with no warnings', async () => {
    for (const unit of ['cluster-control-watch.service', 'cluster-control-run@.service', 'cluster-control-run@web.service']) {
      const result = await verify(unit);
      expect({ unit, ...result }).toEqual({ unit, code: 0, lines: [] });
    }
  });

  it('verify is listened to: a misspelt key and a missing executable are reported', async () => {
    const text = await readFile(join(dir, 'cluster-control-watch.service'), 'utf8');
    await writeFile(join(dir, 'cc-broken.service'), text.replace('KillSignal=SIGTERM', 'KilSignal=SIGTERM').replace(join(dir, 'bin/cluster-control'), join(dir, 'bin/missing')));
    const result = await verify('cc-broken.service');
    expect(result.code).not.toBe(0);
    expect(result.lines.join('\n')).toMatch(/Unknown key 'KilSignal'/);
    expect(result.lines.join('\n')).toMatch(/bin\/missing is not executable/);
  });

  it('watch: `watch --all`, reload by SIGHUP, the configuration from CLUSTER_CONTROL_CONF', async () => {
    const text = await readFile(join(UNITS_DIR, 'cluster-control-watch.service'), 'utf8');
    expect(directives(text, 'ExecStart')).toEqual([`${INSTALLED_BIN} watch --all`]);
    expect(directives(text, 'ExecReload')).toEqual(['/bin/kill -HUP $MAINPID']);
    expect(directives(text, 'Environment')).toEqual(['CLUSTER_CONTROL_CONF=/etc/cluster-control/cluster-control.conf']);
    expect(directives(text, 'Restart')).toEqual(['on-failure']);
  });

  it('run: SIGTERM to run alone, and time for the whole drain before systemd kills anything', async () => {
    const text = await readFile(join(UNITS_DIR, 'cluster-control-run@.service'), 'utf8');
    expect(directives(text, 'ExecStart')[0]).toMatch(new RegExp(`^${INSTALLED_BIN} run .* -- `));
    expect(directives(text, 'KillSignal')).toEqual(['SIGTERM']);
    // control-group (the default) would signal the server at once, before run has deregistered it.
    expect(directives(text, 'KillMode')).toEqual(['mixed']);
    // run's defaults: --drain-max 30 s + --drain 2 s + --stop-grace 10 s.
    expect(Number(directives(text, 'TimeoutStopSec')[0])).toBeGreaterThan(30 + 2 + 10);
    expect(directives(text, 'Environment')).toEqual(['CLUSTER_CONTROL_CONF=/etc/cluster-control/%i.conf']);
  });
});

/** The values of `key=` lines (comments skipped). */
function directives(text: string, key: string): string[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${key}=`))
    .map((l) => l.slice(key.length + 1));
}
