import type { Command, Option } from 'commander';

/**
 * Global options (`--conf`, `--verbose`, `--log-format`) may be written before or after the
 * subcommand. Commander only parses a program's options before the subcommand (positional
 * options, which `run` and `watch` need so that a child command's `--flags` reach the child), so
 * this moves global options found after the subcommand to just before it, leaving alone:
 * - everything after `--`;
 * - for commands in `childCommands` (their trailing operands are another program's argv), the
 *   child command: everything from the first operand past the command's fixed arguments
 *   (`watch <cluster> <revision> [cmd...]`: from the third operand; `run <command...>`: the first);
 * - options the subcommand defines itself (its own meaning wins), and their values.
 * And for those commands, a `--` right after the fixed arguments (`watch web 815 -- apachectl
 * graceful`) is taken out: past the first operand, commander would hand it on as the child
 * command's first word.
 *
 * `args` are the user's arguments (no node or script path). Returns a new array; an argument
 * list it cannot follow (an unknown subcommand, an option it does not know before the
 * subcommand) is returned unchanged for commander to report.
 */
export function hoistGlobalOptions(program: Command, args: readonly string[], childCommands: ReadonlySet<string>): string[] {
  // The program's own options, up to the subcommand.
  let at = 0;
  while (at < args.length) {
    const arg = args[at]!;
    if (arg === '--' || !isOptionLike(arg)) break;
    const option = findOption(program.options, arg);
    if (!option) return [...args];
    at += takesNextArgument(option, arg, args[at + 1]) ? 2 : 1;
  }
  const name = args[at];
  const sub = name === undefined ? undefined : program.commands.find((c) => c.name() === name || c.aliases().includes(name));
  if (!sub) return [...args];

  const fixed = sub.registeredArguments.filter((a) => !a.variadic).length;
  const passesChild = childCommands.has(sub.name());
  const hoisted: string[] = [];
  const kept: string[] = [];
  let operands = 0;
  let i = at + 1;
  for (; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      if (passesChild && fixed > 0 && operands === fixed) i++;
      break;
    }
    if (!isOptionLike(arg)) {
      operands++;
      if (passesChild && operands > fixed) break;
      kept.push(arg);
      continue;
    }
    const own = findOption(sub.options, arg);
    if (own) {
      kept.push(arg);
      if (takesNextArgument(own, arg, args[i + 1])) kept.push(args[++i]!);
      continue;
    }
    const global = findOption(program.options, arg);
    if (global) {
      hoisted.push(arg);
      if (takesNextArgument(global, arg, args[i + 1])) {
        // Missing value: left for commander to report against the program's option.
        if (i + 1 >= args.length) break;
        hoisted.push(args[++i]!);
      }
      continue;
    }
    // Unknown here (a typo, or --help): commander reports or handles it. Its value, if any, is
    // unknowable, so the next word counts as an operand, as commander would take it.
    kept.push(arg);
  }
  return [...args.slice(0, at), ...hoisted, name!, ...kept, ...args.slice(i)];
}

function isOptionLike(arg: string): boolean {
  return arg.length > 1 && arg.startsWith('-');
}

/** The option `arg` names (`--conf`, `--conf=x`, `-V`), if `options` has it. */
function findOption(options: readonly Option[], arg: string): Option | undefined {
  const flag = arg.startsWith('--') && arg.includes('=') ? arg.slice(0, arg.indexOf('=')) : arg;
  return options.find((o) => o.long === flag || o.short === flag);
}

/** Whether the option's value is the next argument (not `--opt=value`, not a flag). */
function takesNextArgument(option: Option, arg: string, next: string | undefined): boolean {
  if (arg.includes('=')) return false;
  if (option.required) return true;
  // Commander's rule for an optional value: the next argument, unless it looks like an option.
  return option.optional && next !== undefined && !isOptionLike(next);
}
