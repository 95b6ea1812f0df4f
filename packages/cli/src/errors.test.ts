import { ConfigError, EtcdAccessError, EtcdEndpointError, EtcdUnavailableError, GatewayMissingError, RegistrationTimeoutError, SupervisorError } from '@cluster-control/core';
import { describe, expect, it } from 'vitest';
import { RuntimeError, UsageError } from './errors.js';
import { exitCodeFor } from './index.js';

describe('CLI errors', () => {
  it('carry codes of their own', () => {
    expect(new RuntimeError('x').code).toBe('CC_RUNTIME');
    expect(new UsageError('x').code).toBe('CC_USAGE');
  });

  it('map to exit codes by code', () => {
    expect(exitCodeFor(new ConfigError('cc.conf: bad'))).toEqual({ code: 2, message: 'cc.conf: bad' });
    expect(exitCodeFor(new UsageError('missing argument'))).toEqual({ code: 2, message: 'missing argument' });
    for (const err of [new RuntimeError('a'), new SupervisorError('a'), new EtcdUnavailableError('a'), new EtcdAccessError('a'), new EtcdEndpointError('a')]) {
      expect(exitCodeFor(err)).toEqual({ code: 1, message: 'a' });
    }
    expect(exitCodeFor(new GatewayMissingError('http://h:2379', '/v3/kv/range')).code).toBe(1);
    expect(exitCodeFor(new GatewayMissingError('http://h:2379', '/v3/kv/range')).message).toMatch(/^http:\/\/h:2379: no etcd JSON gateway/);
    // Not one the CLI describes itself: reported as unexpected, as before.
    expect(exitCodeFor(new RegistrationTimeoutError('gave up'))).toEqual({ code: 1, message: 'unexpected error: gave up' });
    expect(exitCodeFor(new Error('boom'))).toEqual({ code: 1, message: 'unexpected error: boom' });
    expect(exitCodeFor('boom')).toEqual({ code: 1, message: 'unexpected error: boom' });
  });
});
