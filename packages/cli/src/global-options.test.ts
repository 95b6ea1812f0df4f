import { type Command, CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import type { GlobalOptions } from './context.js';
import { hoistGlobalOptions } from './global-options.js';
import { buildProgram } from './program.js';

const CHILD = new Set(['run', 'watch']);

/** Parses `args` as the CLI would; returns the globals the action saw and the subcommand that ran. */
async function parse(args: string[]): Promise<{ globals: GlobalOptions; command: Command }> {
  let globals: GlobalOptions | undefined;
  const program = buildProgram('0.0.0-test', async (g) => {
    globals = g;
  });
  silence(program);
  await program.parseAsync(args, { from: 'user' });
  const command = program.commands.find((c) => [c.name(), ...c.aliases()].some((name) => args.includes(name)));
  if (!globals || !command) throw new Error('no action ran');
  return { globals, command };
}

/** The usage error commander throws for `args` (exitOverride), with its message. */
async function usageError(args: string[]): Promise<{ exitCode: number; message: string }> {
  const program = buildProgram('0.0.0-test', async () => {});
  let message = '';
  silence(program, (text) => (message += text));
  try {
    await program.parseAsync(args, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return { exitCode: err.exitCode, message: message || err.message };
    throw err;
  }
  throw new Error(`no usage error for ${args.join(' ')}`);
}

function silence(program: Command, onError: (text: string) => void = () => {}): void {
  for (const cmd of [program, ...program.commands]) cmd.configureOutput({ writeOut: () => {}, writeErr: onError });
}

describe('global options before or after the subcommand', () => {
  it('takes --conf, --verbose and --log-format after the subcommand and its arguments', async () => {
    for (const args of [
      ['prepare', 'web', '--conf', 'x.conf', '--verbose', '--log-format', 'json'],
      ['--conf', 'x.conf', 'prepare', 'web', '--verbose', '--log-format=json'],
      ['--verbose', '--log-format', 'json', 'prepare', '--conf=x.conf', 'web'],
      ['cc:clusterprepare', 'web', '--timeout', '5', '--conf', 'x.conf', '--log-format', 'json', '--verbose'],
    ]) {
      const { globals } = await parse(args);
      expect(globals, args.join(' ')).toMatchObject({ conf: 'x.conf', verbose: true, logFormat: 'json' });
    }
  });

  it("keeps the subcommand's own options and their values where they are", async () => {
    const { globals, command } = await parse(['members', 'web', '--timeout', '7', '--conf', 'x.conf', '--json']);
    expect(globals.conf).toBe('x.conf');
    expect(command.opts()).toMatchObject({ timeout: 7000, json: true });
  });

  it('defaults: text logs, not verbose, no --conf', async () => {
    const { globals } = await parse(['members', 'web']);
    expect(globals).toMatchObject({ logFormat: 'text' });
    expect(globals.conf).toBeUndefined();
    expect(globals.verbose).toBeUndefined();
  });

  it('the last of two --conf wins, whichever side of the subcommand', async () => {
    expect((await parse(['--conf', 'a.conf', 'members', 'web', '--conf', 'b.conf'])).globals.conf).toBe('b.conf');
  });

  it("watch: global options before the reload command's first word are ours; after it, or after --, the command's", async () => {
    const a = await parse(['watch', 'web', '0', '--verbose', '--', 'mycmd', '--conf', 'x']);
    expect(a.globals.verbose).toBe(true);
    expect(a.globals.conf).toBeUndefined();
    expect(a.command.processedArgs[2]).toEqual(['mycmd', '--conf', 'x']);

    const b = await parse(['watch', 'web', '0', '--conf', 'ours.conf', 'mycmd', '--conf', 'x', '--verbose']);
    expect(b.globals).toMatchObject({ conf: 'ours.conf' });
    expect(b.globals.verbose).toBeUndefined();
    expect(b.command.processedArgs[2]).toEqual(['mycmd', '--conf', 'x', '--verbose']);

    const c = await parse(['cc:clusterwatch', 'web', '5', 'apachectl', '-k', 'graceful', '--log-format', 'json']);
    expect(c.globals.logFormat).toBe('text');
    expect(c.command.processedArgs[2]).toEqual(['apachectl', '-k', 'graceful', '--log-format', 'json']);
  });

  it("run: the server command's arguments are its own, with or without --", async () => {
    const a = await parse(['run', '--ready-tcp', '127.0.0.1:80', '--conf', 'x.conf', '--', 'nginx', '--conf', 'y', '--verbose']);
    expect(a.globals.conf).toBe('x.conf');
    expect(a.globals.verbose).toBeUndefined();
    expect(a.command.processedArgs[0]).toEqual(['nginx', '--conf', 'y', '--verbose']);
    expect(a.command.opts()).toMatchObject({ readyTcp: '127.0.0.1:80' });

    const b = await parse(['run', '--verbose', 'server', '--log-format', 'json']);
    expect(b.globals).toMatchObject({ verbose: true, logFormat: 'text' });
    expect(b.command.processedArgs[0]).toEqual(['server', '--log-format', 'json']);
  });

  it('--log-format other than text or json is a usage error (exit 2 at the top)', async () => {
    for (const args of [
      ['prepare', 'web', '--log-format', 'xml'],
      ['--log-format', 'xml', 'prepare', 'web'],
    ]) {
      const err = await usageError(args);
      expect(err.exitCode).not.toBe(0);
      expect(err.message).toMatch(/--log-format <format>' argument 'xml' is invalid.*text, json/);
    }
  });

  it('a global option without its value after the subcommand is reported, not taken from the next word', async () => {
    expect((await usageError(['prepare', 'web', '--conf'])).message).toMatch(/--conf <file>' argument missing/);
  });

  it('unknown options still fail', async () => {
    expect((await usageError(['prepare', 'web', '--nope'])).message).toMatch(/unknown option '--nope'/);
  });

  it("every subcommand's --help lists the global options", () => {
    const program = buildProgram('0.0.0-test', async () => {});
    for (const cmd of program.commands) {
      const help = cmd.helpInformation();
      expect(help, cmd.name()).toMatch(/Global Options:[\s\S]*--conf <file>[\s\S]*--verbose[\s\S]*--log-format <format>/);
    }
  });
});

describe('hoistGlobalOptions', () => {
  const program = buildProgram('0.0.0-test', async () => {});
  const hoist = (...args: string[]) => hoistGlobalOptions(program, args, CHILD);

  it('moves global options (with their values) to before the subcommand, keeping their order', () => {
    expect(hoist('prepare', 'web', '--conf', 'x.conf', '--verbose')).toEqual(['--conf', 'x.conf', '--verbose', 'prepare', 'web']);
    expect(hoist('--verbose', 'status', 'a', '--log-format=json', 'b', '--json')).toEqual(['--verbose', '--log-format=json', 'status', 'a', 'b', '--json']);
  });

  it('leaves what it cannot follow to commander', () => {
    expect(hoist('frobnicate', '--conf', 'x')).toEqual(['frobnicate', '--conf', 'x']);
    expect(hoist('--nope', 'prepare', '--conf', 'x')).toEqual(['--nope', 'prepare', '--conf', 'x']);
    expect(hoist('help', 'prepare')).toEqual(['help', 'prepare']);
    expect(hoist()).toEqual([]);
  });

  it('stops at --, and for run and watch at the child command', () => {
    expect(hoist('members', 'web', '--', '--verbose')).toEqual(['members', 'web', '--', '--verbose']);
    expect(hoist('watch', '--verbose', 'web', '0', 'cmd', '--verbose')).toEqual(['--verbose', 'watch', 'web', '0', 'cmd', '--verbose']);
    expect(hoist('watch', '--all', '--conf', 'x')).toEqual(['--conf', 'x', 'watch', '--all']);
    expect(hoist('run', '--stop-signal', 'SIGQUIT', '--conf', 'c', 'nginx', '--conf', 'n')).toEqual(['--conf', 'c', 'run', '--stop-signal', 'SIGQUIT', 'nginx', '--conf', 'n']);
  });

  it("a subcommand option's value that looks like a global option is the option's value", () => {
    expect(hoist('run', '--ready-http', '--verbose', '--', 'x')).toEqual(['run', '--ready-http', '--verbose', '--', 'x']);
  });
});

describe('watch <cluster> <revision> -- cmd', () => {
  it('the -- is not part of the reload command', async () => {
    const { command } = await parse(['watch', 'web', '815', '--', 'apachectl', 'graceful']);
    expect(command.processedArgs.slice(0, 2)).toEqual(['web', 815n]);
    expect(command.processedArgs[2]).toEqual(['apachectl', 'graceful']);
    expect(
      hoistGlobalOptions(
        buildProgram('0', async () => {}),
        ['watch', 'web', '0', '--', '--', 'x'],
        CHILD,
      ),
    ).toEqual(['watch', 'web', '0', '--', 'x']);
  });
});
