#!/usr/bin/env node
import { createLogger } from '@cluster-control/core';
import { UsageError } from './args.js';
import { USAGE, parseDbArgs } from './cli.js';
import { dbHandler } from './app.js';
import { HttpService } from './http-service.js';
import { runSupervised } from './lifecycle.js';

const APP = 'demo-db';

async function main(): Promise<number> {
  let args: ReturnType<typeof parseDbArgs>;
  try {
    args = parseDbArgs(process.argv.slice(2), process.env);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`${APP}: ${err.message} (see --help)\n`);
    return 2;
  }
  if (args === 'help') {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const logger = createLogger({ prefix: `${APP}[${args.name}]` });
  const service = new HttpService({ host: args.host, port: args.port, handler: dbHandler(args.id, args.name), logger });
  return runSupervised({ args, kind: 'dbserver', value: JSON.stringify({ id: args.id }), service, clusters: [], logger, readyPath: '/healthz' });
}

const code = await main().catch((err: unknown) => {
  process.stderr.write(`${APP}: ${err instanceof Error ? err.message : String(err)}\n`);
  return 1;
});
process.exitCode = code;
// Everything is closed by now; should a stray handle remain, do not hang around for it.
setTimeout(() => {
  process.stderr.write(`${APP}: still running 2 s after stopping (open handles: ${process.getActiveResourcesInfo().join(', ')}); exiting\n`);
  process.exit(code);
}, 2000).unref();
