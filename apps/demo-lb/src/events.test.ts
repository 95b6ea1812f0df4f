import { describe, expect, it } from 'vitest';
import { formatEvent } from './events.js';

describe('formatEvent', () => {
  it('one data line per line, a blank line at the end', () => {
    expect(formatEvent('report', '{"a":1}')).toBe('event: report\ndata: {"a":1}\n\n');
    expect(formatEvent('report', 'a\nb\r\nc')).toBe('event: report\ndata: a\ndata: b\ndata: c\n\n');
  });
});
