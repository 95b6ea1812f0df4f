import type { RenderContext } from '@cluster-control/core';
import { parseMembersJson } from '@cluster-control/core/sync';
import { describe, expect, it } from 'vitest';
import { member } from '#test-support/handler-fixtures.js';
import { builtinHandlers, json } from './index.js';
import { HandlerOptionsError } from './options-error.js';

const context: RenderContext = { cluster: 'web', path: '/clusters/web' };

const members = [member('10.0.0.5:80', '10.0.0.5', 80, { weight: 3 }), member('[fd00::5]', 'fd00::5', undefined), member('web-1', 'web-1', undefined)];

describe('json handler', () => {
  it('is registered as a builtin', () => {
    expect(builtinHandlers.json).toBe(json);
    expect(json.name).toBe('json');
  });

  it('renders names like the PHP JsonHandler by default', () => {
    const options = json.parseOptions({});
    expect(options).toEqual({ format: 'names', pretty: false });
    expect(json.render(members, options, context)).toBe('["10.0.0.5:80","[fd00::5]","web-1"]\n');
  });

  it('renders an empty list', () => {
    expect(json.render([], json.parseOptions({}), context)).toBe('[]\n');
    expect(json.render([], json.parseOptions({ format: 'objects', pretty: true }), context)).toBe('[]\n');
  });

  it('renders objects', () => {
    const out = json.render(members, json.parseOptions({ format: 'objects' }), context);
    expect(out.endsWith('\n')).toBe(true);
    expect(out.split('\n')).toHaveLength(2);
    expect(JSON.parse(out)).toEqual([
      { name: '10.0.0.5:80', host: '10.0.0.5', port: 80, meta: { weight: 3 } },
      { name: '[fd00::5]', host: 'fd00::5', port: null, meta: {} },
      { name: 'web-1', host: 'web-1', port: null, meta: {} },
    ]);
    expect(out.startsWith('[{"name":"10.0.0.5:80","host":"10.0.0.5","port":80,"meta":{"weight":3}}')).toBe(true);
  });

  it("reads back with core's parseMembersJson, in either format", () => {
    const expected = [
      { name: '10.0.0.5:80', host: '10.0.0.5', port: 80, kind: 'ipv4', meta: { weight: 3 } },
      { name: '[fd00::5]', host: 'fd00::5', port: undefined, kind: 'ipv6', meta: {} },
      { name: 'web-1', host: 'web-1', port: undefined, kind: 'hostname', meta: {} },
    ];
    expect(parseMembersJson(json.render(members, json.parseOptions({ format: 'objects', pretty: true }), context))).toEqual(expected);
    expect(parseMembersJson(json.render(members, json.parseOptions({}), context))).toEqual(expected.map((m) => ({ ...m, meta: {} })));
  });

  it('pretty-prints when asked', () => {
    expect(json.render(members.slice(0, 2), json.parseOptions({ pretty: true }), context)).toBe('[\n  "10.0.0.5:80",\n  "[fd00::5]"\n]\n');
  });

  it('is deterministic', () => {
    const options = json.parseOptions({ format: 'objects', pretty: true });
    expect(json.render(members, options, context)).toBe(json.render([...members], options, context));
  });

  it('rejects bad options, naming the option', () => {
    const error = (raw: unknown) => {
      try {
        json.parseOptions(raw as Record<string, unknown>);
      } catch (e) {
        return e;
      }
      throw new Error('expected an error');
    };
    const unknown = error({ indent: 2 });
    expect(unknown).toBeInstanceOf(HandlerOptionsError);
    expect(unknown).toMatchObject({ name: 'HandlerOptionsError', path: 'indent' });
    expect((unknown as Error).message).toMatch(/^indent: unknown option/);
    expect(error({ format: 'xml' })).toMatchObject({ path: 'format', message: 'format: must be one of "names", "objects"' });
    expect(error({ format: 1 })).toMatchObject({ path: 'format' });
    expect(error({ pretty: 'yes' })).toMatchObject({ path: 'pretty' });
    expect(error(null)).toMatchObject({ name: 'HandlerOptionsError', path: '' });
    expect(error(['names'])).toMatchObject({ name: 'HandlerOptionsError' });
  });

  it('objects: meta nested far deeper than the stack allows is left out and reported once, the rest renders', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = { a: deep };
    let ok: unknown = 1;
    for (let i = 0; i < 63; i++) ok = [ok];
    const lines: string[] = [];
    // Built without member()'s JSON.stringify of the value, which would overflow itself.
    const list = [
      { ...member('10.0.0.5:80', '10.0.0.5', 80), meta: { weight: 3, deep, ok } },
      { ...member('10.0.0.6:80', '10.0.0.6', 80), meta: { deep } },
    ];
    for (const pretty of [false, true]) {
      const out = json.render(list, json.parseOptions({ format: 'objects', pretty }), { ...context, report: (p) => lines.push(p) });
      expect(JSON.parse(out)).toEqual([
        { name: '10.0.0.5:80', host: '10.0.0.5', port: 80, meta: { weight: 3, ok } },
        { name: '10.0.0.6:80', host: '10.0.0.6', port: 80, meta: {} },
      ]);
    }
    expect(new Set(lines)).toEqual(new Set(['member 10.0.0.5:80: meta.deep ignored (nested more than 64 levels deep)', 'member 10.0.0.6:80: meta.deep ignored (nested more than 64 levels deep)']));
    expect(lines).toHaveLength(4);
  });
});
