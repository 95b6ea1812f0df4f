import { parseSignalName } from '@cluster-control/core/supervisor';
import { Command, InvalidArgumentError, Option } from 'commander';
import { type GlobalOptions, type CommandContext } from './context.js';
import { checkConfig } from './commands/check-config.js';
import { heartbeat } from './commands/heartbeat.js';
import { members } from './commands/members.js';
import { prepare } from './commands/prepare.js';
import { removekey } from './commands/removekey.js';
import { render } from './commands/render.js';
import { type StatusOptions, status } from './commands/status.js';
import { type RunOptions, run } from './commands/run.js';
import { watch } from './commands/watch.js';
import { watchkey } from './commands/watchkey.js';
import { hoistGlobalOptions } from './global-options.js';

export type Run = (ctx: CommandContext) => Promise<number>;

const examples = `
Examples:
  # the PHP version's startup flow, unchanged
  REDIS_REV=$(cluster-control prepare redis)
  cluster-control watch redis "$REDIS_REV" -- apachectl graceful &
  cluster-control heartbeat &
  cluster-control watchkey; apachectl graceful-stop

  cluster-control members web --json
  cluster-control render web > /tmp/web.conf     # what prepare would write, nothing written
  cluster-control check-config --conf /etc/cluster-control.conf
  cluster-control status web --wait --expect 3 --timeout 60
  cluster-control --conf /etc/cluster-control.conf removekey

Global options (--conf, --verbose, --log-format) go before or after the subcommand; for run and
watch, not among the server's or reload command's arguments (after --, or after its first word).
The PHP names cc:clusterprepare, cc:clusterwatch, cc:heartbeat, cc:watchkey and cc:removekey
work as aliases. Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error,
3 prepare/render below minMembers with no file yet (the handler's empty form written/printed).`;

/** Commands whose trailing operands are another program's argv: global options there are the child's. */
const CHILD_COMMANDS: ReadonlySet<string> = new Set(['run', 'watch']);

/** The program, taking global options after the subcommand too (see hoistGlobalOptions). */
class Program extends Command {
  override parseOptions(args: string[]): ReturnType<Command['parseOptions']> {
    return super.parseOptions(hoistGlobalOptions(this, args, CHILD_COMMANDS));
  }
}

function parseRevision(value: string): bigint {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('expected a revision number (what prepare printed)');
  return BigInt(value);
}

function parseCount(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('expected a whole number of watchers, at least 1');
  return Number(value);
}

function parseSignal(value: string): NodeJS.Signals {
  const signal = parseSignalName(value);
  if (!signal) throw new InvalidArgumentError('expected a signal name such as SIGHUP, SIGUSR1 or SIGWINCH');
  return signal;
}

function parseTimeout(value: string): number {
  if (!/^\d+(\.\d+)?$/.test(value)) throw new InvalidArgumentError('expected a number of seconds');
  return Math.round(Number(value) * 1000);
}

const timeoutOption = () => new Option('--timeout <seconds>', 'give up (exit 1) if etcd cannot be reached within this time').argParser(parseTimeout).default(30_000, '30');

/**
 * The command-line interface. Each action hands a `Run` to `dispatch`, which owns the context's
 * lifetime and the mapping of errors to exit codes.
 */
export function buildProgram(version: string, dispatch: (globals: GlobalOptions, run: Run) => Promise<void>): Command {
  const program = new Program('cluster-control')
    .description('Keep configuration files in step with cluster membership registered in etcd v3.')
    .version(version, '--version')
    .option('--conf <file>', 'configuration file (default: $CLUSTER_CONTROL_CONF or ./cluster-control.conf)')
    .option('--verbose', 'log debug detail to stderr')
    .addOption(new Option('--log-format <format>', 'log lines as text or json (one object per line), both with timestamps').choices(['text', 'json']).default('text'))
    .enablePositionalOptions()
    // Before the subcommands are added: they copy these settings when created.
    .exitOverride()
    .configureHelp({ showGlobalOptions: true })
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', examples);

  const globals = (cmd: Command) => cmd.optsWithGlobals<GlobalOptions>();

  program
    .command('prepare')
    .alias('cc:clusterprepare')
    .description("write the cluster's file now and print the etcd revision it reflects")
    .argument('<cluster>', 'cluster name from the configuration')
    .addOption(timeoutOption())
    .addHelpText(
      'after',
      `
Exit codes: 0 written (or kept: below minMembers with a file already there), 1 not written
(etcd unreachable, check failed), 2 usage or configuration, 3 below minMembers and no file yet:
the handler's empty form was written so the server can start; the revision is printed as usual.
  REV=$(cluster-control prepare web) || [ $? -eq 3 ]`,
    )
    .action((cluster: string, opts: { timeout: number }, cmd: Command) => dispatch(globals(cmd), (ctx) => prepare(ctx, cluster, opts)));

  program
    .command('watch')
    .alias('cc:clusterwatch')
    .description(
      "apply every change after <revision> to the cluster's file; run cmd (or the configured reload) after each replacement. --all: follow every configured cluster. SIGHUP re-reads the configuration",
    )
    .usage('[options] <cluster> <revision> [--] [cmd...]\n       cluster-control watch --all')
    // Optional here so that --all needs none; without --all both are required (checked below).
    .argument('[cluster]', 'cluster name from the configuration')
    .argument('[revision]', 'revision printed by prepare (0: start from the current state)', parseRevision)
    .argument('[cmd...]', 'reload command and its arguments (overrides the configured reload)')
    .option('--all', 'follow every configured cluster from the current state, each with its own reload (a daemon for a load balancer); takes no arguments')
    .passThroughOptions()
    .action((cluster: string | undefined, revision: bigint | undefined, cmd: string[], opts: { all?: boolean }, command: Command) => {
      if (opts.all) {
        if (cluster !== undefined) command.error(`error: watch --all takes no arguments (got ${JSON.stringify(cluster)})`, { exitCode: 2, code: 'commander.excessArguments' });
        return dispatch(globals(command), (ctx) => watch(ctx, { all: true }));
      }
      if (cluster === undefined || revision === undefined)
        command.error(`error: missing required argument '${cluster === undefined ? 'cluster' : 'revision'}' (or use --all)`, { exitCode: 2, code: 'commander.missingArgument' });
      return dispatch(globals(command), (ctx) => watch(ctx, { cluster, revision, command: cmd }));
    });

  program
    .command('heartbeat')
    .alias('cc:heartbeat')
    .description('register the own key (self.key) on a lease and keep it alive; exit 0 when an operator deletes it')
    .option('--once', 'register and exit; the key lives for one TTL unless a later heartbeat or run of the same key on this machine takes its lease over (another machine waits for it)')
    .addOption(
      new Option(
        '--timeout <seconds>',
        'give up (exit 1) if the key is not registered by then: etcd unreachable, or the key held by another lease (default: 30 with --once, else keep trying)',
      ).argParser(parseTimeout),
    )
    .addOption(
      new Option('--drain-max <seconds>', 'on SIGTERM/SIGINT, after deleting the key: wait at most this long until every watcher of its clusters applied it (needs status on; 0: do not wait)')
        .argParser(parseTimeout)
        .default(30_000, '30'),
    )
    .action((opts: { once?: boolean; timeout?: number; drainMax: number }, cmd: Command) => dispatch(globals(cmd), (ctx) => heartbeat(ctx, opts)));

  program
    .command('watchkey')
    .alias('cc:watchkey')
    .description('exit 0 when the own key, once present, is deleted')
    .action((_opts: unknown, cmd: Command) => dispatch(globals(cmd), (ctx) => watchkey(ctx)));

  program
    .command('removekey')
    .alias('cc:removekey')
    .description('delete the own key (exit 0 if it was already absent)')
    .addOption(timeoutOption())
    .action((opts: { timeout: number }, cmd: Command) => dispatch(globals(cmd), (ctx) => removekey(ctx, opts)));

  program
    .command('run')
    .description('prepare every cluster, start the server, register once it is ready, keep its files current; deregister before it stops')
    .argument('<command...>', 'the server command and its arguments (after --)')
    .option('--ready-tcp <host:port>', 'ready when this TCP address accepts connections')
    .option('--ready-http <url>', 'ready when this URL answers 2xx')
    .addOption(new Option('--ready-timeout <seconds>', 'fail the run if the server is not ready by then').argParser(parseTimeout).default(60_000, '60'))
    .addOption(new Option('--reload-signal <signal>', 'send this to the server after a replacement, for clusters with neither reload nor reloadSignal').argParser(parseSignal))
    .addOption(new Option('--stop-signal <signal>', 'signal that stops the server gracefully').argParser(parseSignal).default('SIGTERM'))
    .addOption(new Option('--stop-grace <seconds>', 'SIGKILL the server if it has not stopped by then').argParser(parseTimeout).default(10_000, '10'))
    .addOption(
      new Option(
        '--drain-max <seconds>',
        'on shutdown, after deleting the own key: wait at most this long until every watcher of its clusters applied it with its reload ok (needs status on; 0: do not wait)',
      )
        .argParser(parseTimeout)
        .default(30_000, '30'),
    )
    .addOption(
      new Option('--drain <seconds>', 'on shutdown, wait this long more (after the fleet applied the deregistration) before stopping the server, for requests in flight')
        .argParser(parseTimeout)
        .default(2_000, '2'),
    )
    .option('--metrics <addr>', 'serve /metrics (Prometheus), /healthz and /readyz on HOST:PORT')
    .option('--check-config', 'validate the configuration and options, print the plan, and exit')
    .addOption(
      new Option('--timeout <seconds>', 'give up (exit 1, server stopped) if preparing or registering takes longer: etcd unreachable, or the own key held by another lease')
        .argParser(parseTimeout)
        .default(30_000, '30'),
    )
    .passThroughOptions()
    .addHelpText(
      'after',
      `
Example (the PHP version's apache startup script in one line):
  cluster-control run --ready-http http://127.0.0.1/ --reload-signal SIGUSR1 --stop-signal SIGWINCH -- \\
    sh -c '. /etc/apache2/envvars && mkdir -p "$APACHE_RUN_DIR" "$APACHE_LOCK_DIR" && exec apache2 -DFOREGROUND'`,
    )
    .action((command: string[], opts: RunOptions, cmd: Command) => dispatch(globals(cmd), (ctx) => run(ctx, command, opts)));

  program
    .command('members')
    .description('print the current members of a cluster')
    .argument('<cluster>', 'cluster name from the configuration')
    .option('--json', 'print JSON: {cluster, revision, members: [{name, host, port, meta}], quarantined: [{name, key, kind, reason, reportedBy?}]}')
    .addOption(timeoutOption())
    .action((cluster: string, opts: { json?: boolean; timeout: number }, cmd: Command) => dispatch(globals(cmd), (ctx) => members(ctx, cluster, opts)));

  program
    .command('render')
    .description('print the file prepare would write now (nothing written); the revision goes to stderr')
    .argument('<cluster>', 'cluster name from the configuration')
    .addOption(timeoutOption())
    .action((cluster: string, opts: { timeout: number }, cmd: Command) => dispatch(globals(cmd), (ctx) => render(ctx, cluster, opts)));

  program
    .command('check-config')
    .description('validate the configuration without contacting etcd: handler options, templates, check and reload executables, target directories, self; one line per problem')
    .addHelpText('after', '\nExit codes: 0 no problem, 2 a problem (each printed on stdout, then a summary line).')
    .action((_opts: unknown, cmd: Command) => dispatch(globals(cmd), (ctx) => checkConfig(ctx)));

  program
    .command('status')
    .description('show what every live watcher applied (SYNCED, BEHIND or ERROR); --wait until the fleet is in step')
    .argument('[cluster...]', 'cluster names from the configuration (default: every configured cluster)')
    .option('--json', 'print JSON: {clusters: [{name, path, revision, watchers: [{id, state, reason, appliedRevision, lagRevisions, lagSeconds, ...}], hashMismatches}]}')
    .option('--wait', 'poll until every live watcher applied the revision (--revision) with none in ERROR; exit 1 at --timeout naming who held it up')
    .addOption(new Option('--revision <revision>', "with --wait: the revision every watcher must have applied (default: etcd's revision when status started)").argParser(parseRevision))
    .addOption(new Option('--expect <n>', 'with --wait: also require at least n live watchers per cluster').argParser(parseCount))
    .addOption(new Option('--timeout <seconds>', 'give up (exit 1) if etcd cannot be reached, or with --wait the fleet is not in step, within this time').argParser(parseTimeout).default(30_000, '30'))
    .addHelpText(
      'after',
      `
States: SYNCED (applied the newest change under the cluster prefix, last check and reload ok),
BEHIND (not yet), ERROR (installing, the check or the reload is failing; the reason is shown).
LAG is revisions behind the newest change and, while BEHIND, seconds since the watcher last
reported (a frozen watcher's grows; one catching up reports about every second). A watcher is
live while its status key is: it disappears within the status TTL of its process's end.
Exit codes: 0 shown (with --wait: in step), 1 --wait timed out or etcd unreachable, 2 usage.

Examples:
  cluster-control status
  cluster-control status web --json
  # in a deploy script: block until 3 watchers applied everything written so far
  cluster-control status web --wait --expect 3 --timeout 60
  # wait for the change a script made (etcdctl put -w json prints its revision)
  cluster-control status web db --wait --revision 815`,
    )
    .action((clusters: string[], opts: StatusOptions, cmd: Command) => dispatch(globals(cmd), (ctx) => status(ctx, clusters, opts)));

  return program;
}
