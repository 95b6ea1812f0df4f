import { COMMON_USAGE, type CommonArgs, parseCommonArgs } from '@cluster-control/demo-shared';

export const USAGE = `usage: node apps/demo-lb/dist/main.js [options]
A load balancer stand-in: watches <prefix>/webserver (file <data-dir>/webservers.json), asks
every web server's /report and serves the fan-out: GET / (live HTML), /report.json, /report.txt,
/events (server-sent events); registered as <prefix>/loadbalancer/HOST:PORT.
${COMMON_USAGE}`;

export function parseLbArgs(argv: readonly string[], env: NodeJS.ProcessEnv): 'help' | CommonArgs {
  const parsed = parseCommonArgs(argv, env, {});
  return parsed === 'help' ? 'help' : parsed.common;
}
