import { describe, expect, it } from 'vitest';
import { prefixRange, rangeEnd, singleKey } from './key-range.js';

describe('rangeEnd', () => {
  it('is undefined for a single key', () => {
    expect(rangeEnd(singleKey('/a'))).toBeUndefined();
  });
  it('increments the last byte of a prefix', () => {
    expect(rangeEnd(prefixRange('/clusters/redis/'))!.toString()).toBe('/clusters/redis0');
  });
  it('so /clusters/redis2 is outside /clusters/redis/', () => {
    const end = rangeEnd(prefixRange('/clusters/redis/'))!;
    expect(Buffer.compare(Buffer.from('/clusters/redis2/x'), end)).toBeGreaterThan(0);
    expect(Buffer.compare(Buffer.from('/clusters/redis/x'), end)).toBeLessThan(0);
  });
  it('increments the last byte, even inside a multi-byte character', () => {
    expect([...rangeEnd({ key: 'a\u00ff', prefix: true })!]).toEqual([0x61, 0xc3, 0xc0]);
  });
});
