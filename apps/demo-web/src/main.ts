#!/usr/bin/env node
import { join } from 'node:path';
import { type ClusterTarget, createLogger } from '@cluster-control/core';
import { json } from '@cluster-control/handlers';
import { UsageError } from './args.js';
import { USAGE, parseWebArgs } from './cli.js';
import { WebApp } from './app.js';
import { HttpService } from './http-service.js';
import { dataDir, runSupervised } from './lifecycle.js';

const APP = 'demo-web';

async function main(): Promise<number> {
  let args: ReturnType<typeof parseWebArgs>;
  try {
    args = parseWebArgs(process.argv.slice(2), process.env);
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
  const data = await dataDir(args, APP);
  try {
    const target: ClusterTarget = {
      name: 'dbservers',
      path: `${args.prefix}/dbserver`,
      file: join(data.dir, 'dbservers.json'),
      handler: json,
      handlerOptions: json.parseOptions({ format: 'objects' }),
      checkTimeoutMs: 10_000,
      minMembers: 0,
    };
    const app = new WebApp(args.name, target.file, logger);
    const service = new HttpService({ host: args.host, port: args.port, handler: app.handler, logger, onStart: () => app.load(), onReload: () => app.load() });
    return await runSupervised({ args, kind: 'webserver', value: '{}', service, clusters: [{ target }], logger, readyPath: '/healthz' });
  } finally {
    await data.dispose();
  }
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
