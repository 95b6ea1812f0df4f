import { describe, expect, it } from 'vitest';
import { describeJsonError, jsonErrorOffset } from './json-error.js';

function parseError(text: string): unknown {
  try {
    JSON.parse(text);
  } catch (error) {
    return error;
  }
  throw new Error(`valid JSON: ${text}`);
}

describe('jsonErrorOffset', () => {
  it.each(['{}', '[]', ' {"a": [1, -2.5e+3, 0, true, false, null, "x\\u00e9\\n"]} ', '"s"', '0', '-0.1E5'])('accepts %j', (text) => {
    expect(jsonErrorOffset(text)).toBe(-1);
  });

  // Where V8 reports a position, the scanner must agree with it.
  it.each(['{"a":1', '{"a" 1}', '{"a":1,}', '[1,2', '{"a":1}}', "{'a':1}", '{"a": 01}', '{"a":"\\q"}', '[1 2]', '{"a":"x\ny"}', '{"a":1.}', '{"a":-}', '{"a":"\\u12g4"}'])(
    'matches V8 on %j',
    (text) => {
      const position = /at position (\d+)/.exec(String(parseError(text)))?.[1];
      expect(position).toBeDefined();
      expect(jsonErrorOffset(text)).toBe(Number(position));
    },
  );

  // Found by the fault suite's property test (test/faults/bad-input.fault.test.ts): the scanner
  // used to recurse per nesting level, so an unterminated file of 100 000 "[" threw RangeError
  // instead of a ConfigError.
  it('copes with any nesting depth', () => {
    expect(jsonErrorOffset('['.repeat(100_000))).toBe(100_000);
    expect(jsonErrorOffset('{"a":'.repeat(50_000))).toBe(250_000);
    expect(jsonErrorOffset(`${'[{"a":'.repeat(50_000)}1${'}]'.repeat(50_000)}`)).toBe(-1);
    expect(jsonErrorOffset(`${'['.repeat(50_000)}1,${']'.repeat(50_000)}`)).toBe(50_002);
  });

  it.each([
    ['{"a":}', 5],
    ['{"a": tru}', 9],
    [' x', 1],
    ['', 0],
    ['{"a": nul', 9],
  ])('locates %j at %i', (text, offset) => {
    expect(jsonErrorOffset(text)).toBe(offset);
  });
});

describe('describeJsonError', () => {
  it('gives a 1-based line and column and drops the quoted input from the message', () => {
    const text = '{\n  "a": 1,\n  "b": }\n';
    expect(describeJsonError(text, parseError(text))).toEqual({ line: 3, column: 8, message: "Unexpected token '}'" });
  });

  it('uses the position V8 reports', () => {
    const text = '{\n  "a" 1\n}';
    expect(describeJsonError(text, parseError(text))).toEqual({ line: 2, column: 7, message: "Expected ':' after property name" });
  });

  it('points past the last character when the input ends early', () => {
    const text = '{\n  "a": [1,';
    expect(describeJsonError(text, parseError(text))).toEqual({ line: 2, column: 11, message: 'Unexpected end of JSON input' });
  });

  it('never shows the text around the error, nor a letter that may start an unquoted secret', () => {
    const text = '{\n  "etcd": {"auth": {"username": "cc", "password": Hunter2}}\n}';
    const described = describeJsonError(text, parseError(text));
    expect(described).toEqual({ line: 2, column: 51, message: 'Unexpected character (a letter or digit; a string must be in double quotes)' });
    expect(JSON.stringify(described)).not.toMatch(/H|unter/);
  });
});
