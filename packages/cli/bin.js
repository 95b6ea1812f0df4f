#!/usr/bin/env node
import { main } from './dist/index.js';

process.exitCode = await main(process.argv);
// Calls still waiting on an unresponsive etcd (each until its deadline) must not hold the exit:
// `run` passes its child's exit code on promptly (README: One process instead of the startup
// script: `run`). Unref'd, it never delays an exit.
setTimeout(() => process.exit(), 200).unref();
