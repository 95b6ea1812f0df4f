import type { AnyHandler, Member, RenderContext } from '@cluster-control/core';
import { describe, expect, it } from 'vitest';
import { member } from '#test-support/handler-fixtures.js';
import { builtinHandlers } from './index.js';

/*
 * Every built-in handler, fed hostile member names and hostile meta values directly (bypassing
 * core's own validation): nothing of them may reach the output. Each hostile string carries the
 * marker EVIL or the address 6.6.6.6, so "reached the output" is a plain substring check.
 */

const META_FIELDS = ['weight', 'route', 'status', 'backup', 'down', 'disabled', 'max_fails', 'fail_timeout', 'max_conns', 'maxconn', 'lbset', 'name'];
const HOSTILE_VALUES: unknown[] = [
  '1\n    server EVIL 6.6.6.6:80',
  '3"; EVIL',
  "3' EVIL",
  '} EVIL {',
  '{ EVIL }',
  '3; EVIL',
  '3 # EVIL',
  '3 > EVIL',
  '<EVIL>',
  '\r\nEVIL: 6.6.6.6',
  '\u2028EVIL',
  ['EVIL'],
  { EVIL: 1 },
];
const HOSTILE_NAMES = [
  '10.0.0.1 EVIL',
  '10.0.0.1:80\nBalancerMember "http://6.6.6.6"',
  'EVIL"host',
  "EVIL'host",
  'EVIL;reboot',
  'EVIL}',
  '{EVIL',
  'EVIL#1',
  'EVIL>x',
  '<EVIL',
  'EVIL\tx',
  '6.6.6.6:80\r\nEVIL',
];

/** Valid members whose every meta field the handlers read holds a hostile value. */
function hostileMetaMembers(): Member[] {
  return HOSTILE_VALUES.map((value, i) => {
    const meta = Object.fromEntries(META_FIELDS.map((f) => [f, value]));
    return member(`10.0.1.${i + 1}:80`, `10.0.1.${i + 1}`, 80, meta);
  });
}

const hostileNameMembers = () => HOSTILE_NAMES.map((name) => member(name, name.split(':')[0]!, 80));

// Options that make each handler (and each of its formats) render what it would in production.
const templateText = `{% for m in members %}{{ m.name }} {{ m.host }} {{ m.port }} ${META_FIELDS.map((f) => `{{ m.meta.${f} }}`).join(' ')}\n{% endfor %}`;
const cases: [string, string, Record<string, unknown>][] = [
  ['apache', 'apache', {}],
  ['nginx', 'nginx', {}],
  ['haproxy', 'haproxy', {}],
  ['redis', 'redis (nutcracker)', {}],
  ['redis', 'redis (json)', { format: 'json' }],
  ['redis', 'redis (env)', { format: 'env' }],
  ['mysql', 'mysql (json)', {}],
  ['mysql', 'mysql (haproxy)', { format: 'haproxy', user: 'haproxy_check' }],
  ['template', 'template', { template: templateText }],
  ['json', 'json (names)', {}],
];

describe('no member can inject anything into any handler output', () => {
  it('covers every built-in handler', () => {
    expect(new Set(cases.map(([name]) => name))).toEqual(new Set(Object.keys(builtinHandlers)));
  });

  for (const [name, label, rawOptions] of cases) {
    it(label, () => {
      const handler: AnyHandler = builtinHandlers[name]!;
      const options = handler.parseOptions(rawOptions);
      const reports: string[] = [];
      const context: RenderContext = { cluster: 'web', path: '/clusters/web', report: (p) => reports.push(p) };
      const safe = member('10.0.0.9:8080', '10.0.0.9', 8080, { weight: 2 });
      const out = handler.render([safe, ...hostileMetaMembers(), ...hostileNameMembers()], options, context);

      expect(out).not.toMatch(/EVIL|6\.6\.6\.6/);
      expect(out).toContain('10.0.0.9');
      // Every hostile member name was left out, and said so.
      for (const hostile of HOSTILE_NAMES) expect(reports.some((r) => r.includes(JSON.stringify(hostile)))).toBe(true);
    });
  }

  it('json objects: meta is JSON-escaped, never raw', () => {
    const handler = builtinHandlers.json!;
    const out = handler.render(hostileMetaMembers(), handler.parseOptions({ format: 'objects' }), { cluster: 'web', path: '/clusters/web' });
    const parsed = JSON.parse(out) as { meta: Record<string, unknown> }[];
    expect(parsed[0]!.meta.route).toBe(HOSTILE_VALUES[0]);
    expect(out.trimEnd().split('\n')).toHaveLength(1); // no raw newline from a value
  });
});
