import { COMMON_USAGE, type CommonArgs, parseCommonArgs } from '@cluster-control/demo-shared';

export const USAGE = `usage: node apps/demo-web/dist/main.js [options]
A web server stand-in: watches <prefix>/dbserver (file <data-dir>/dbservers.json) and answers
GET /report with every database's id; registered as <prefix>/webserver/HOST:PORT.
${COMMON_USAGE}`;

export function parseWebArgs(argv: readonly string[], env: NodeJS.ProcessEnv): 'help' | CommonArgs {
  const parsed = parseCommonArgs(argv, env, {});
  return parsed === 'help' ? 'help' : parsed.common;
}
