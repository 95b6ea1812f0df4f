#!/usr/bin/env node
import { join } from 'node:path';
import { superviseHttpServer } from '@cluster-control/core';
import { json } from '@cluster-control/handlers';
import { dataDir, runApp, supervision } from '@cluster-control/demo-shared';
import { USAGE, parseWebArgs } from './cli.js';
import { WebApp } from './app.js';

// Registered as <prefix>/webserver/HOST:PORT once /healthz answers; watches <prefix>/dbserver
// into <data-dir>/dbservers.json and reads it again after each replacement.
await runApp('demo-web', USAGE, parseWebArgs, async (args, logger) => {
  const data = await dataDir(args, 'demo-web');
  try {
    const file = join(data.dir, 'dbservers.json');
    const app = new WebApp(args.name, file, logger);
    const { exitCode } = await superviseHttpServer({
      etcd: { endpoints: args.etcd },
      self: { key: `${args.prefix}/webserver/${args.name}`, value: '{}', ttl: args.ttl },
      clusters: [
        { target: { name: 'dbservers', path: `${args.prefix}/dbserver`, file, handler: json, handlerOptions: json.parseOptions({ format: 'objects' }), checkTimeoutMs: 10_000, minMembers: 0 } },
      ],
      server: { host: args.host, port: args.port, handler: app.handler, onStart: () => app.load(), onReload: () => app.load() },
      ...supervision(args),
      logger,
    });
    return exitCode;
  } finally {
    await data.dispose();
  }
});
