/** Where and why `JSON.parse(text)` failed, as a one-line `line:column: message`. */
export function describeJsonError(text: string, error: unknown): { line: number; column: number; message: string } {
  const raw = error instanceof Error ? error.message : String(error);
  // V8 appends either "in JSON at position N" or `, "<the input, maybe cut>" is not valid JSON`.
  const position = /\bin JSON at position (\d+)/.exec(raw)?.[1];
  // The quoted input is dropped, and so is an unexpected letter or digit: it may be the first
  // character of an unquoted secret (`"password": hunter2`). Punctuation ('}', ',') is kept.
  const message = raw
    .replace(/\s+in JSON at position \d+.*$/s, '')
    .replace(/, .*is not valid JSON$/s, '')
    .replace(/^Unexpected token '([^'])'$/, (whole, c: string) => (/[\p{L}\p{N}]/u.test(c) ? 'Unexpected character (a letter or digit; a string must be in double quotes)' : whole));
  const offset = position === undefined ? jsonErrorOffset(text) : Number(position);
  const before = text.slice(0, offset);
  const lineStart = before.lastIndexOf('\n') + 1;
  return { line: before.split('\n').length, column: offset - lineStart + 1, message };
}

/**
 * Offset of the first character that cannot continue a valid JSON text (`text.length` if the text
 * ends too early, -1 if it is valid). Needed because V8 omits the position for "Unexpected token".
 */
export function jsonErrorOffset(text: string): number {
  let i = 0;
  const fail: () => never = () => {
    throw new JsonOffset(i);
  };
  const skipBlanks = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const take = (chars: string) => {
    const c = text[i];
    if (c === undefined || !chars.includes(c)) fail();
    i++;
  };
  const digits = () => {
    take('0123456789');
    while (/[0-9]/.test(text[i] ?? '')) i++;
  };
  const string = () => {
    take('"');
    for (;;) {
      const c = text[i];
      if (c === undefined || c < ' ') fail();
      i++;
      if (c === '"') return;
      if (c === '\\') {
        if (text[i] === 'u') {
          i++;
          for (let k = 0; k < 4; k++) take('0123456789abcdefABCDEF');
        } else take('"\\/bfnrt');
      }
    }
  };
  /** An object member's `"key":`, up to its value. */
  const member = () => {
    skipBlanks();
    string();
    skipBlanks();
    take(':');
  };
  // Iterative, with an explicit stack of the closers expected: a file of 100 000 "[" must not
  // overflow the call stack (JSON.parse itself copes with that depth).
  const value = (): void => {
    const closers: string[] = [];
    for (;;) {
      skipBlanks();
      const c = text[i];
      if (c === '{' || c === '[') {
        const close = c === '{' ? '}' : ']';
        i++;
        skipBlanks();
        if (text[i] === close) {
          i++;
        } else {
          closers.push(close);
          if (close === '}') member();
          continue;
        }
      } else if (c === '"') {
        string();
      } else if (c === '-' || /[0-9]/.test(c ?? '')) {
        if (c === '-') i++;
        if (text[i] === '0') i++;
        else digits();
        if (text[i] === '.') {
          i++;
          digits();
        }
        if (text[i] === 'e' || text[i] === 'E') {
          i++;
          if (text[i] === '+' || text[i] === '-') i++;
          digits();
        }
      } else {
        const literal = ['true', 'false', 'null'].find((word) => word[0] === c);
        if (literal === undefined) fail();
        for (const ch of literal) take(ch);
      }
      // A value is complete: close every container it completes, or go on to the next element.
      for (;;) {
        const close = closers.at(-1);
        if (close === undefined) return;
        skipBlanks();
        take(`,${close}`);
        if (text[i - 1] !== close) {
          if (close === '}') member();
          break;
        }
        closers.pop();
      }
    }
  };
  try {
    value();
    skipBlanks();
    if (i < text.length) fail();
    return -1;
  } catch (e) {
    if (e instanceof JsonOffset) return e.offset;
    throw e;
  }
}

/** Thrown (and caught) inside jsonErrorOffset to stop the scan where the text stops being JSON. */
class JsonOffset extends Error {
  constructor(readonly offset: number) {
    super(`not valid JSON at offset ${offset}`);
  }
}
