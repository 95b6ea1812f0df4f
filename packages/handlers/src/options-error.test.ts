import { ErrorCode, HandlerOptionsError as CoreHandlerOptionsError, hasErrorCode } from '@cluster-control/core';
import { describe, expect, it } from 'vitest';
import { HandlerOptionsError } from './options-error.js';

// This package keeps its own copy of the class (it must load without core): the copy must be
// indistinguishable from core's by name, code and message.
describe("the handlers' HandlerOptionsError", () => {
  it("matches core's", () => {
    for (const [path, message] of [
      ['format', 'must be a string'],
      ['', 'options must be an object'],
    ] as const) {
      const ours = new HandlerOptionsError(path, message);
      const theirs = new CoreHandlerOptionsError(path, message);
      expect({ name: ours.name, code: ours.code, message: ours.message, path: ours.path }).toEqual({
        name: theirs.name,
        code: theirs.code,
        message: theirs.message,
        path: theirs.path,
      });
    }
  });

  it('is recognised by its code', () => {
    expect(hasErrorCode(new HandlerOptionsError('format', 'bad'), ErrorCode.CC_HANDLER_OPTIONS)).toBe(true);
  });
});
