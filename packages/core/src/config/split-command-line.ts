import { ConfigError } from './config-error.js';

const BLANKS = ' \t\n';
// Inside double quotes a backslash only escapes these; before anything else it is literal.
const DOUBLE_QUOTE_ESCAPES = '$`"\\\n';

/**
 * Splits a command line into argv the way a POSIX shell splits words: blanks separate words,
 * single quotes keep everything literal, double quotes keep everything but `\` before
 * `$`, `` ` ``, `"`, `\` or a newline, and an unquoted backslash escapes the next character
 * (a backslash-newline joins lines). Nothing else is special: no variables, globs, comments or
 * operators (`a && b` is three words), because no shell runs the result.
 * Throws ConfigError on an unterminated quote.
 */
export function splitCommandLine(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false; // so that '' yields an empty word rather than none
  let i = 0;
  while (i < line.length) {
    const c = line[i]!;
    if (BLANKS.includes(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      i++;
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new ConfigError(`unterminated single quote at character ${i + 1}`);
      word += line.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (c === '"') {
      const start = i;
      inWord = true;
      i++;
      for (;;) {
        if (i >= line.length) throw new ConfigError(`unterminated double quote at character ${start + 1}`);
        const d = line[i]!;
        if (d === '"') break;
        const next = line[i + 1];
        if (d === '\\' && next !== undefined && DOUBLE_QUOTE_ESCAPES.includes(next)) {
          if (next !== '\n') word += next;
          i += 2;
        } else {
          word += d;
          i++;
        }
      }
      i++;
    } else if (c === '\\') {
      const next = line[i + 1];
      if (next !== '\n') {
        // A trailing backslash stays literal, as sh does.
        word += next ?? '\\';
        inWord = true;
      }
      i += 2;
    } else {
      word += c;
      inWord = true;
      i++;
    }
  }
  if (inWord) words.push(word);
  return words;
}
