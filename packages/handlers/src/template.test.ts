import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Member, RenderContext } from '@cluster-control/core';
import { afterAll, describe, expect, it } from 'vitest';
import { member, parseOptionsError } from '../../../test/support/handler-fixtures.js';
import { builtinHandlers, template } from './index.js';
import { HandlerOptionsError } from './options-error.js';

const context: RenderContext = { cluster: 'web', path: '/clusters/web' };

// Sorted by name, as core hands them over.
const members = [
  member('10.0.0.5:80', '10.0.0.5', 80, { weight: 3, zone: 'b' }),
  member('10.0.0.6:8080', '10.0.0.6', 8080, { weight: 1, zone: 'a', backup: true }),
  member('[fd00::5]', 'fd00::5', undefined),
  member('web-1', 'web-1', undefined, { weight: 2, zone: 'a' }),
];

/** Renders an inline template. */
function render(text: string, list: readonly Member[] = members, extra: Record<string, unknown> = {}, ctx: RenderContext = context): string {
  return template.render(list, template.parseOptions({ template: text, ...extra }), ctx);
}

function optionsError(raw: Record<string, unknown>): HandlerOptionsError {
  const error = parseOptionsError(template, raw, HandlerOptionsError);
  expect(error.message).not.toContain('\n');
  return error;
}

const dir = mkdtempSync(join(tmpdir(), 'cc-template-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('template handler', () => {
  it('is registered as a builtin', () => {
    expect(builtinHandlers.template).toBe(template);
    expect(template.name).toBe('template');
  });

  it('loops over members with forloop.last separators, and counts them', () => {
    expect(render('{{ members.size }}: {% for m in members %}{{ m.name }}{% unless forloop.last %}, {% endunless %}{% endfor %}\n')).toBe(
      '4: 10.0.0.5:80, 10.0.0.6:8080, [fd00::5], web-1\n',
    );
    expect(render('{{ members | map: "name" | join: " " }}')).toBe('10.0.0.5:80 10.0.0.6:8080 [fd00::5] web-1');
  });

  it('gives each member name, host, port (empty when the name has none) and meta', () => {
    expect(render('{% for m in members %}{{ m.name }}|{{ m.host }}|{{ m.port }}|{{ m.meta.weight }}|{{ m.meta.zone }}\n{% endfor %}')).toBe(
      '10.0.0.5:80|10.0.0.5|80|3|b\n10.0.0.6:8080|10.0.0.6|8080|1|a\n[fd00::5]|fd00::5|||\nweb-1|web-1||2|a\n',
    );
  });

  it('defaults for missing meta and ports', () => {
    expect(render('{% for m in members %}{{ m.host }}:{{ m.port | default: 80 }} w={{ m.meta.weight | default: 1 }}\n{% endfor %}')).toBe(
      '10.0.0.5:80 w=3\n10.0.0.6:8080 w=1\nfd00::5:80 w=1\nweb-1:80 w=2\n',
    );
  });

  it('sorts by a field and by a meta field (members without it last)', () => {
    expect(render('{% assign s = members | sort: "host" | reverse %}{% for m in s %}{{ m.host }} {% endfor %}')).toBe('web-1 fd00::5 10.0.0.6 10.0.0.5 ');
    expect(render('{% assign s = members | sort: "meta.weight" %}{% for m in s %}{{ m.name }} {% endfor %}')).toBe('10.0.0.6:8080 web-1 10.0.0.5:80 [fd00::5] ');
  });

  it('filters with where and where_exp', () => {
    expect(render('{% assign a = members | where: "meta.zone", "a" %}{% for m in a %}{{ m.name }} {% endfor %}')).toBe('10.0.0.6:8080 web-1 ');
    expect(render('{% assign b = members | where: "meta.backup" %}{% for m in b %}{{ m.name }} {% endfor %}')).toBe('10.0.0.6:8080 ');
    expect(render('{% assign heavy = members | where_exp: "m", "m.meta.weight > 1" %}{{ heavy.size }}: {{ heavy | map: "name" | join: "," }}')).toBe('2: 10.0.0.5:80,web-1');
  });

  it('conditionals on meta', () => {
    const text = '{% for m in members %}{{ m.name }}{% if m.meta.backup %} backup{% elsif m.meta.weight >= 3 %} heavy{% endif %}{% case m.meta.zone %}{% when "a" %} A{% else %} -{% endcase %}\n{% endfor %}';
    expect(render(text)).toBe('10.0.0.5:80 heavy -\n10.0.0.6:8080 backup A\n[fd00::5] -\nweb-1 A\n');
  });

  it('whitespace control trims around tags', () => {
    const text = ['upstream {', '{%- for m in members %}', '  server {{ m.name }};', '{%- endfor %}', '}', ''].join('\n');
    expect(render(text, members.slice(0, 2))).toBe('upstream {\n  server 10.0.0.5:80;\n  server 10.0.0.6:8080;\n}\n');
  });

  it('renders zero members', () => {
    const text = '# {{ cluster.name }}: {{ members.size }} member(s)\n{% for m in members %}{{ m.name }}\n{% else %}# none\n{% endfor %}';
    expect(render(text, [])).toBe('# web: 0 member(s)\n# none\n');
  });

  it('outputs exactly what the template produces: no newline is added or removed', () => {
    expect(render('{{ members.size }}')).toBe('4');
    expect(render('{{ members.size }}\n\n')).toBe('4\n\n');
    expect(render('', [])).toBe('');
  });

  it('exposes the cluster and the vars option', () => {
    const out = render('{{ cluster.name }} {{ cluster.path }} {{ vars.port }} {{ vars.list | join: "," }} {{ vars.nested.on }}', [], {
      vars: { port: 8080, list: ['a', 'b'], nested: { on: true }, none: null },
    });
    expect(out).toBe('web /clusters/web 8080 a,b true');
    expect(render('[{{ vars.missing }}]', [])).toBe('[]');
  });

  it('json and escape filters for formats that need them', () => {
    expect(render('{{ members | map: "name" | json }}')).toBe('["10.0.0.5:80","10.0.0.6:8080","[fd00::5]","web-1"]');
    expect(render('{{ members.first.meta | json }}')).toBe('{"weight":3,"zone":"b"}');
    expect(render('<a v="{{ vars.s | escape }}"/>', [], { vars: { s: '"<&>' } })).toBe('<a v="&#34;&lt;&amp;&gt;"/>');
  });

  it('is deterministic', () => {
    const options = template.parseOptions({ template: '{% for m in members %}{% cycle "a", "b" %}{% increment n %}{{ m.name }}{% endfor %}' });
    const first = template.render(members, options, context);
    expect(first).toBe('a010.0.0.5:80b110.0.0.6:8080a2[fd00::5]b3web-1');
    expect(template.render([...members], options, context)).toBe(first);
  });

  it('loads templateFile once, at parseOptions time', () => {
    const file = join(dir, 'list.liquid');
    writeFileSync(file, '{% for m in members %}{{ m.name }}\n{% endfor %}');
    const options = template.parseOptions({ templateFile: file });
    writeFileSync(file, 'changed on disk');
    expect(template.render(members.slice(0, 2), options, context)).toBe('10.0.0.5:80\n10.0.0.6:8080\n');
  });

  it('rejects bad options, naming the option', () => {
    expect(optionsError({}).message).toBe('template: set exactly one of "template" (the template text) or "templateFile" (its absolute path)');
    expect(optionsError({ template: 'x', templateFile: '/x' }).path).toBe('template');
    expect(optionsError({ template: 1 })).toMatchObject({ path: 'template', message: 'template: must be a string' });
    expect(optionsError({ templateFile: 'upstreams.liquid' }).message).toBe('templateFile: must be an absolute path (got "upstreams.liquid")');
    expect(optionsError({ templateFile: join(dir, 'missing.liquid') }).message).toMatch(/^templateFile: cannot read .*missing\.liquid: ENOENT/);
    expect(optionsError({ template: 'x', rawMeta: 'yes' }).path).toBe('rawMeta');
    expect(optionsError({ template: 'x', file: 'x' }).message).toMatch(/^file: unknown option/);
    expect(optionsError({ template: 'x', vars: [] })).toMatchObject({ path: 'vars', message: 'vars: must be an object' });
    expect(optionsError({ template: 'x', vars: { a: { b: [1, () => 2] } } }).path).toBe('vars.a.b[1]');
    expect(optionsError({ template: 'x', vars: { n: Number.NaN } }).message).toBe('vars.n: must be a finite number');
    expect(optionsError({ template: 'x', vars: { d: new Date(0) } }).path).toBe('vars.d');
  });

  it('reports template syntax errors at parseOptions time with line and column', () => {
    expect(optionsError({ template: 'a\n{% for m in members %}\n{{ m.name }}' }).message).toBe('template: line 2, column 1: tag {% for m in members %} not closed');
    expect(optionsError({ template: '{% fo %}' }).message).toBe('template: line 1, column 1: tag "fo" not found');
    const file = join(dir, 'bad.liquid');
    writeFileSync(file, 'ok\n  {{ m.name | upcase\n');
    expect(optionsError({ templateFile: file })).toMatchObject({ path: 'templateFile', message: `templateFile: ${file}:2:3: output "{{ m.name | upcase\\n" not closed` });
  });

  it('has no filters or tags that read files, the clock or randomness, and rejects unknown filters', () => {
    expect(optionsError({ template: '{{ m.name | shell }}' }).message).toBe('template: line 1, column 1: undefined filter: shell');
    for (const tag of ['include', 'render', 'layout']) {
      expect(optionsError({ template: `{% ${tag} "/etc/passwd" %}` }).message).toBe(`template: line 1, column 1: tag "${tag}" not found`);
    }
    for (const filter of ['date: "%s"', 'date_to_xmlschema', 'sample', 'base64_decode']) {
      expect(optionsError({ template: `{{ "now" | ${filter} }}` }).message).toMatch(/undefined filter/);
    }
  });

  it('hides prototypes from templates', () => {
    expect(render('[{{ members.constructor }}{{ cluster.constructor.name }}{{ vars.__proto__ }}{{ members.first.meta.toString }}]')).toBe('[]');
  });

  it('a failure at render time is thrown as a one-line Error naming the place', () => {
    const options = template.parseOptions({ template: 'ok\n{% if members.size > 1 %}{{ "%" | url_decode }}{% endif %}' });
    expect(template.render(members.slice(0, 1), options, context)).toBe('ok\n');
    expect(() => template.render(members, options, context)).toThrow(new Error('template line 2, column 26: URI malformed'));
    const file = join(dir, 'throws.liquid');
    writeFileSync(file, '{{ "%" | url_decode }}');
    expect(() => template.render([], template.parseOptions({ templateFile: file }), context)).toThrow(new Error(`template ${file}:1:1: URI malformed`));
  });

  describe('injection', () => {
    const hostileNames = ['10.0.0.1 80', '10.0.0.1:80\nserver evil 6.6.6.6:80', '10.0.0.2"', "10.0.0.3'", '{evil}', 'a}', '10.0.0.4;reboot', 'host#1', 'a>b', '<script>'];
    const everything = '{% for m in members %}{{ m.name }}|{{ m.host }}|{{ m.port }}|{{ m.meta | json }}|{% for kv in m.meta %}{{ kv[0] }}={{ kv[1] }};{% endfor %}\n{% endfor %}';

    it('leaves out members with hostile names, reporting them', () => {
      const problems: string[] = [];
      const list = [member('10.0.0.9:80', '10.0.0.9', 80), ...hostileNames.map((n) => member(n, n, undefined))];
      const out = render(everything, list, {}, { ...context, report: (p) => problems.push(p) });
      expect(out).toBe('10.0.0.9:80|10.0.0.9|80|{}|\n');
      expect(problems).toHaveLength(hostileNames.length);
      expect(render('{{ members.size }}', list)).toBe('1');
    });

    it('leaves out hostile meta values and keys, reporting them; safe ones pass', () => {
      const hostileValues: Record<string, unknown> = {
        newline: 'a\nserver evil 6.6.6.6:80',
        dquote: 'a"b',
        squote: "a'b",
        braces: '{a}',
        semicolon: 'a;b',
        hash: '#a',
        gt: 'a>b',
        lt: 'a<b',
        space: 'a b',
        empty: '',
        long: 'x'.repeat(65),
        percent: '%0A',
        huge: 2 ** 60,
        float: 1.5,
        exp: 1e300,
        nul: null,
        object: { a: 1 },
        array: ['a'],
      };
      const hostileKeys = { 'a\nb': 1, 'k"': 1, 'k}': 1, 'k;': 1, 'k#': 1, 'k>': 1, ' k': 1, '': 1 };
      const problems: string[] = [];
      const m = member('10.0.0.9:80', '10.0.0.9', 80, { weight: 5, zone: 'eu-west_1.a', backup: false, neg: -2, ...hostileValues, ...hostileKeys });
      const fields = Object.keys(hostileValues).map((k) => `${k}={{ m.meta.${k} | default: "-" }}`).join(' ');
      const out = render(`${everything}{% for m in members %}${fields}\n{% endfor %}`, [m], {}, { ...context, report: (p) => problems.push(p) });
      expect(out).toBe(
        '10.0.0.9:80|10.0.0.9|80|{"weight":5,"zone":"eu-west_1.a","backup":false,"neg":-2}|weight=5;zone=eu-west_1.a;backup=false;neg=-2;\n' +
          Object.keys(hostileValues).map((k) => `${k}=-`).join(' ') +
          '\n',
      );
      expect(problems).toHaveLength(Object.keys(hostileValues).length + Object.keys(hostileKeys).length);
      expect(problems).toContain('member 10.0.0.9:80: meta key "a\\nb" ignored (expected a name matching /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/)');
      expect(problems.find((p) => p.includes('meta.huge'))).toMatch(/expected an integer/);
    });

    it('rawMeta hands meta over unchecked (the template must escape it), names are still checked', () => {
      const m = member('10.0.0.9:80', '10.0.0.9', 80, { note: 'a\n"b"' });
      const bad = member('a b', 'a b', undefined, { note: 'x' });
      expect(render('{% for m in members %}{{ m.meta.note | json }}{% endfor %}', [m, bad], { rawMeta: true })).toBe('"a\\n\\"b\\""');
      expect(render('{% for m in members %}{{ m.meta.note | json }}{% endfor %}', [m, bad])).toBe('');
    });
  });
});
