import { describe, expect, it } from 'vitest';
import { ConfigError } from './config-error.js';
import { splitCommandLine } from './split-command-line.js';

describe('splitCommandLine', () => {
  it.each([
    ['apachectl graceful', ['apachectl', 'graceful']],
    ['  nginx\t-s   reload\n', ['nginx', '-s', 'reload']],
    ['', []],
    ['   ', []],
    [`sh -c 'kill -HUP $(cat /run/x.pid)'`, ['sh', '-c', 'kill -HUP $(cat /run/x.pid)']],
    [`echo "a b" 'c d'`, ['echo', 'a b', 'c d']],
    [`a'b'"c"d`, ['abcd']],
    [`x '' ""`, ['x', '', '']],
    [String.raw`a\ b \"c\" \\`, ['a b', '"c"', '\\']],
    [String.raw`"\$HOME \"q\" \\ \n"`, ['$HOME "q" \\ \\n']],
    [String.raw`'\n \' x`, ['\\n \\', 'x']],
    ['a\\\nb c', ['ab', 'c']],
    ['"a\\\nb"', ['ab']],
    ['trailing\\', ['trailing\\']],
    ['$HOME *.conf ~ a&&b | c; d > e # f', ['$HOME', '*.conf', '~', 'a&&b', '|', 'c;', 'd', '>', 'e', '#', 'f']],
    ['haproxy -c -f {src}', ['haproxy', '-c', '-f', '{src}']],
  ])('splits %j', (line, words) => {
    expect(splitCommandLine(line)).toEqual(words);
  });

  it.each([
    [`echo 'oops`, 'unterminated single quote at character 6'],
    [`echo "oops`, 'unterminated double quote at character 6'],
    [`echo "a\\"`, 'unterminated double quote at character 6'],
  ])('rejects %j', (line, message) => {
    expect(() => splitCommandLine(line)).toThrow(new ConfigError(message));
    expect(() => splitCommandLine(line)).toThrow(ConfigError);
  });
});
