import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EtcdConnection } from '../etcd/types.js';
import type { Logger } from '../util/log.js';
import { ChildService } from './child-service.js';
import { ServiceStartError } from './service.js';
import { Supervisor } from './supervisor.js';

// No etcd: a Supervisor with no clusters and no key of its own never calls it.

function recorder(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const at = (level: string) => (message: string) => void lines.push(`${level}: ${message}`);
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cc-child-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('ChildService: a command that cannot be started', () => {
  it('not found: ServiceStartError with exit code 127', async () => {
    const child = new ChildService({ argv: ['/nonexistent/cc-server', '-DFOREGROUND'], logger: recorder() });
    const error = await child.start().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ServiceStartError);
    expect(error).toMatchObject({ exitCode: 127, message: 'command not found: /nonexistent/cc-server' });
  });

  it('not executable: exit code 126', async () => {
    const script = join(dir, 'server.sh');
    await writeFile(script, '#!/bin/sh\nexec sleep 60\n', { mode: 0o644 });
    const error = await new ChildService({ argv: [script], logger: recorder() }).start().catch((e: unknown) => e);
    expect(error).toMatchObject({ exitCode: 126, message: `permission denied: ${script}` });
  });

  it('the Supervisor ends the run with that code, before registering or watching anything', async () => {
    const logger = recorder();
    const service = new ChildService({ argv: ['cc-no-such-server-in-path'], logger });
    const supervisor = new Supervisor({ etcd: {} as EtcdConnection, clusters: [], self: undefined, service, logger });
    expect(await supervisor.run()).toEqual({ end: 'service-exited', exitCode: 127 });
    expect(logger.lines).toEqual(['error: the server could not be started: command not found: cc-no-such-server-in-path (exit 127)']);
  });

  it('a server that starts still passes on its own exit code', async () => {
    const logger = recorder();
    const service = new ChildService({ argv: ['sh', '-c', 'exit 3'], logger });
    const supervisor = new Supervisor({ etcd: {} as EtcdConnection, clusters: [], service, logger });
    expect(await supervisor.run()).toEqual({ end: 'service-exited', exitCode: 3 });
  });
});
