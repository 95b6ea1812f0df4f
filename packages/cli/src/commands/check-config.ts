import { builtinHandlers } from '@cluster-control/handlers';
import type { CommandContext } from '../context.js';
import { configProblems, summarize } from '../config-checks.js';

/**
 * `check-config`: the configuration loaded (a load error is already one line, exit 2), then
 * everything that would fail only at run time (config-checks.ts): one line per problem on stdout,
 * then a summary line. Exit 0 when there is none, 2 otherwise. etcd is not contacted.
 */
export async function checkConfig(ctx: CommandContext): Promise<number> {
  const problems = await configProblems(ctx.config, builtinHandlers);
  process.stdout.write([...problems, summarize(ctx.config, problems)].join('\n') + '\n');
  return problems.length === 0 ? 0 : 2;
}
