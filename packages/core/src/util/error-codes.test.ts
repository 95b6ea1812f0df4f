import { describe, expect, it } from 'vitest';
import * as core from '../index.js';
import { FieldError } from '../config/normalize.js';
import { ErrorCode, hasErrorCode } from './error-codes.js';

/** One instance of every error class core exports; the first test fails when a new one is missing here. */
const samples: Record<string, () => Error> = {
  ConfigError: () => new core.ConfigError('cc.conf: bad'),
  HandlerOptionsError: () => new core.HandlerOptionsError('format', 'must be a string'),
  CompactedError: () => new core.CompactedError(5n),
  EtcdUnavailableError: () => new core.EtcdUnavailableError('down'),
  EtcdAccessError: () => new core.EtcdAccessError('denied'),
  EtcdEndpointError: () => new core.EtcdEndpointError('not etcd'),
  GatewayMissingError: () => new core.GatewayMissingError('http://127.0.0.1:2379', '/v3/kv/range'),
  UnsafeTargetError: () => new core.UnsafeTargetError('/etc/x.conf', 'a FIFO'),
  RegistrationTimeoutError: () => new core.RegistrationTimeoutError('gave up'),
  SupervisorError: () => new core.SupervisorError('stopped'),
  ServiceStartError: () => new core.ServiceStartError('not found', 127),
};

const exportedErrorClasses = Object.entries(core as Record<string, unknown>)
  .filter(([, value]) => typeof value === 'function' && value.prototype instanceof Error)
  .map(([name]) => name)
  .sort();

// The one code published before the CC_ scheme; renaming it would break callers matching it.
const LEGACY = new Set<string>([ErrorCode.ERR_UNSAFE_TARGET]);

describe('error codes', () => {
  it('covers every exported error class', () => {
    expect(exportedErrorClasses).toEqual(Object.keys(samples).sort());
  });

  it('gives every error class its own code, of the CC_ form, from the ErrorCode list', () => {
    const all = [...Object.values(samples).map((make) => make()), new FieldError('x', 'bad')];
    const codes = all.map((err) => (err as Error & { code: unknown }).code);
    const known = Object.values(ErrorCode) as unknown[];
    for (const [i, code] of codes.entries()) {
      expect(typeof code, all[i]!.name).toBe('string');
      expect(known, all[i]!.name).toContain(code);
      if (!LEGACY.has(code as string)) expect(code, all[i]!.name).toMatch(/^CC_[A-Z_]+$/);
    }
    expect(new Set(codes).size).toBe(codes.length);
  });

  it('lists each code once, under its own name', () => {
    for (const [key, code] of Object.entries(ErrorCode)) expect(code).toBe(key);
    expect(new Set(Object.values(ErrorCode)).size).toBe(Object.keys(ErrorCode).length);
  });

  it('keeps a subclass an instance of its parent, with a code of its own', () => {
    const endpoint = new core.EtcdEndpointError('not etcd');
    expect(endpoint).toBeInstanceOf(core.EtcdAccessError);
    expect(endpoint.code).toBe('CC_ETCD_ENDPOINT');
    const missing = new core.GatewayMissingError('http://127.0.0.1:2379', '/v3/kv/range');
    expect(missing).toBeInstanceOf(core.EtcdEndpointError);
    expect(missing).toBeInstanceOf(core.EtcdAccessError);
    expect(missing.code).toBe('CC_ETCD_NO_GATEWAY');
    expect(new core.EtcdAccessError('denied').code).toBe('CC_ETCD_ACCESS');
  });

  it('leaves names and messages as they were', () => {
    const err = new core.HandlerOptionsError('format', 'must be a string');
    expect(err.name).toBe('HandlerOptionsError');
    expect(err.message).toBe('format: must be a string');
    expect(new core.UnsafeTargetError('/etc/x.conf', 'a FIFO').code).toBe('ERR_UNSAFE_TARGET');
  });

  it('matches by code, not by class', () => {
    expect(hasErrorCode(new core.ConfigError('x'), ErrorCode.CC_CONFIG_INVALID)).toBe(true);
    expect(hasErrorCode(new core.GatewayMissingError('e', 'p'), ErrorCode.CC_ETCD_ACCESS, ErrorCode.CC_ETCD_NO_GATEWAY)).toBe(true);
    expect(hasErrorCode(new core.GatewayMissingError('e', 'p'), ErrorCode.CC_ETCD_ACCESS)).toBe(false);
    // Another copy of a class (e.g. a handler package's HandlerOptionsError) carries the same code.
    expect(hasErrorCode(Object.assign(new Error('x: y'), { code: 'CC_HANDLER_OPTIONS' }), ErrorCode.CC_HANDLER_OPTIONS)).toBe(true);
    expect(hasErrorCode({ code: 'CC_CONFIG_INVALID' }, ErrorCode.CC_CONFIG_INVALID)).toBe(false);
    expect(hasErrorCode(new Error('x'), ErrorCode.CC_CONFIG_INVALID)).toBe(false);
  });
});
