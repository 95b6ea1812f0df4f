import { describe, expect, it } from 'vitest';
import { describeError } from './describe-error.js';

describe('describeError', () => {
  it('is one line', () => {
    expect(describeError(new Error('a\n  b\tc '))).toBe('a b c');
    expect(describeError('plain')).toBe('plain');
    expect(describeError(new TypeError(''))).toBe('TypeError');
  });

  it("drops gRPC's empty trailing resolution note, keeps a real one", () => {
    const grpc = '14 UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:2379. Resolution note: ';
    expect(describeError(new Error(grpc))).toBe('14 UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:2379.');
    expect(describeError(new Error('14 UNAVAILABLE: name resolution failed. Resolution note: DNS lookup failed'))).toBe('14 UNAVAILABLE: name resolution failed. Resolution note: DNS lookup failed');
  });
});
