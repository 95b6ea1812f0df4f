#!/usr/bin/env node
import { join } from 'node:path';
import { superviseHttpServer } from '@cluster-control/core';
import { json } from '@cluster-control/handlers';
import { SUPERVISION, dataDir, runApp } from './args.js';
import { USAGE, parseLbArgs } from './cli.js';
import { LbApp } from './app.js';

// Registered as <prefix>/loadbalancer/HOST:PORT once /healthz answers; watches <prefix>/webserver
// into <data-dir>/webservers.json and reads it again after each replacement.
await runApp('demo-lb', USAGE, parseLbArgs, async (args, logger) => {
  const data = await dataDir(args, 'demo-lb');
  try {
    const file = join(data.dir, 'webservers.json');
    const app = new LbApp(args.name, file, logger);
    const { exitCode } = await superviseHttpServer({
      etcd: { endpoints: args.etcd },
      self: { key: `${args.prefix}/loadbalancer/${args.name}`, value: '{}', ttl: args.ttl },
      clusters: [{ target: { name: 'webservers', path: `${args.prefix}/webserver`, file, handler: json, handlerOptions: json.parseOptions({ format: 'objects' }), checkTimeoutMs: 10_000, minMembers: 0 } }],
      server: { host: args.host, port: args.port, handler: app.handler, onStart: () => app.start(), onStop: () => app.stop(), onReload: () => app.load() },
      ...SUPERVISION,
      logger,
    });
    return exitCode;
  } finally {
    await data.dispose();
  }
});
