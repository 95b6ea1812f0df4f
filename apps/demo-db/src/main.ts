#!/usr/bin/env node
import { superviseHttpServer } from '@cluster-control/core';
import { runApp, supervision } from '@cluster-control/demo-shared';
import { USAGE, parseDbArgs } from './cli.js';
import { dbHandler } from './app.js';

// Registered as <prefix>/dbserver/HOST:PORT (value {"id"}) once /healthz answers; watches nothing.
await runApp('demo-db', USAGE, parseDbArgs, async (args, logger) => {
  const { exitCode } = await superviseHttpServer({
    etcd: { endpoints: args.etcd },
    self: { key: `${args.prefix}/dbserver/${args.name}`, value: JSON.stringify({ id: args.id }), ttl: args.ttl },
    server: { host: args.host, port: args.port, handler: dbHandler(args.id, args.name) },
    ...supervision(args),
    logger,
  });
  return exitCode;
});
