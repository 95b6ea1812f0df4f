import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Member, RenderContext } from '@cluster-control/core';
import { afterAll, describe, expect, it } from 'vitest';
import { member, parseOptionsError } from '#test-support/handler-fixtures.js';
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
    expect(render('{{ members.size }}: {% for m in members %}{{ m.name }}{% unless forloop.last %}, {% endunless %}{% endfor %}\n')).toBe('4: 10.0.0.5:80, 10.0.0.6:8080, [fd00::5], web-1\n');
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
    const text =
      '{% for m in members %}{{ m.name }}{% if m.meta.backup %} backup{% elsif m.meta.weight >= 3 %} heavy{% endif %}{% case m.meta.zone %}{% when "a" %} A{% else %} -{% endcase %}\n{% endfor %}';
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

  it("reads a relative templateFile from the configuration file's directory", () => {
    writeFileSync(join(dir, 'names.liquid'), '{{ members.size }}');
    const options = template.parseOptions({ templateFile: 'names.liquid' }, { baseDir: dir });
    expect(options.source).toBe(join(dir, 'names.liquid'));
    expect(template.render(members, options, context)).toBe(String(members.length));
    expect(() => template.parseOptions({ templateFile: '../nope.liquid' }, { baseDir: dir })).toThrow(`templateFile: cannot read ${join(dir, '..', 'nope.liquid')}`);
  });

  it('rejects bad options, naming the option', () => {
    expect(optionsError({}).message).toBe('template: set exactly one of "template" (the template text) or "templateFile" (its path)');
    expect(optionsError({ template: 'x', templateFile: '/x' }).path).toBe('template');
    expect(optionsError({ template: 1 })).toMatchObject({ path: 'template', message: 'template: must be a string' });
    expect(optionsError({ templateFile: 'upstreams.liquid' }).message).toBe('templateFile: must be an absolute path when the options do not come from a configuration file (got "upstreams.liquid")');
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
      const fields = Object.keys(hostileValues)
        .map((k) => `${k}={{ m.meta.${k} | default: "-" }}`)
        .join(' ');
      const out = render(`${everything}{% for m in members %}${fields}\n{% endfor %}`, [m], {}, { ...context, report: (p) => problems.push(p) });
      expect(out).toBe(
        '10.0.0.9:80|10.0.0.9|80|{"weight":5,"zone":"eu-west_1.a","backup":false,"neg":-2}|weight=5;zone=eu-west_1.a;backup=false;neg=-2;\n' +
          Object.keys(hostileValues)
            .map((k) => `${k}=-`)
            .join(' ') +
          '\n',
      );
      // One line for the member, naming the count and the first few.
      const count = Object.keys(hostileValues).length + Object.keys(hostileKeys).length;
      expect(problems).toEqual([
        `member 10.0.0.9:80: ${count} meta fields ignored: meta.newline (expected a string matching /^[A-Za-z0-9_.-]{1,64}$/), meta.dquote (expected a string matching /^[A-Za-z0-9_.-]{1,64}$/), meta.squote (expected a string matching /^[A-Za-z0-9_.-]{1,64}$/), and ${count - 3} more`,
      ]);
      const one = (meta: Record<string, unknown>) => {
        const lines: string[] = [];
        render(everything, [member('10.0.0.9:80', '10.0.0.9', 80, meta)], {}, { ...context, report: (p) => lines.push(p) });
        return lines;
      };
      expect(one({ 'a\nb': 1 })).toEqual(['member 10.0.0.9:80: meta."a\\nb" ignored (key is not a name matching /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/)']);
      expect(one({ huge: 2 ** 60 })).toEqual(['member 10.0.0.9:80: meta.huge ignored (expected an integer from -1000000 to 1000000)']);
    });

    it('rawMeta hands meta over unchecked (the template must escape it), names are still checked', () => {
      const m = member('10.0.0.9:80', '10.0.0.9', 80, { note: 'a\n"b"' });
      const bad = member('a b', 'a b', undefined, { note: 'x' });
      expect(render('{% for m in members %}{{ m.meta.note | json }}{% endfor %}', [m, bad], { rawMeta: true })).toBe('"a\\n\\"b\\""');
      expect(render('{% for m in members %}{{ m.meta.note | json }}{% endfor %}', [m, bad])).toBe('');
    });
  });

  describe('limits', () => {
    /** Meta nested `depth` levels deep: {"a":{"a":...{"a":1}}}. */
    const nested = (depth: number): unknown => {
      let value: unknown = 1;
      for (let i = 0; i < depth; i++) value = { a: value };
      return value;
    };
    /** Renders and returns the error, with how long the render blocked. */
    const failing = (text: string, list: readonly Member[], extra: Record<string, unknown> = {}) => {
      const options = template.parseOptions({ template: text, ...extra });
      const started = performance.now();
      try {
        template.render(list, options, context);
      } catch (err) {
        return { message: (err as Error).message, ms: performance.now() - started };
      }
      throw new Error('expected the render to fail');
    };

    it('has defaults, and validates renderLimitMs, memoryLimit and maxOutputBytes', () => {
      expect(template.parseOptions({ template: 'x' })).toMatchObject({ renderLimitMs: 500, memoryLimit: 8 * 1024 * 1024, maxOutputBytes: 16 * 1024 * 1024 });
      expect(template.parseOptions({ template: 'x', renderLimitMs: 50, memoryLimit: 4096, maxOutputBytes: 10 })).toMatchObject({ renderLimitMs: 50, memoryLimit: 4096, maxOutputBytes: 10 });
      for (const [name, value] of [
        ['renderLimitMs', 0],
        ['renderLimitMs', 1.5],
        ['renderLimitMs', '500'],
        ['memoryLimit', 100],
        ['maxOutputBytes', 0],
        ['maxOutputBytes', 2 ** 40],
      ] as const) {
        expect(optionsError({ template: 'x', [name]: value })).toMatchObject({ path: name });
      }
    });

    it('refuses meta integers outside +-1,000,000, so a range over one stays small', () => {
      const lines: string[] = [];
      const list = [member('10.0.0.5:80', '10.0.0.5', 80, { weight: 2 ** 40 }), member('10.0.0.6:80', '10.0.0.6', 80, { weight: 3 }), member('10.0.0.7:80', '10.0.0.7', 80, { weight: -1_000_000 })];
      const out = render('{% for m in members %}{% for i in (1..m.meta.weight) %}x{% endfor %};{% endfor %}', list, {}, { ...context, report: (p) => lines.push(p) });
      expect(out).toBe(';xxx;;');
      expect(lines).toEqual(['member 10.0.0.5:80: meta.weight ignored (expected an integer from -1000000 to 1000000)']);
    });

    it('a runaway loop fails that render within about renderLimitMs, with an Error', () => {
      // 200^4 = 1.6 billion iterations and no allocation: only the time limit stops it.
      const list = Array.from({ length: 200 }, (_, i) => member(`10.0.${i >> 8}.${i & 255}:80`, `10.0.${i >> 8}.${i & 255}`, 80));
      const loop = '{% for a in members %}{% for b in members %}{% for c in members %}{% for d in members %}{% endfor %}{% endfor %}{% endfor %}{% endfor %}';
      const { message, ms } = failing(loop, list, { renderLimitMs: 200 });
      expect(message).toMatch(/^template line 1, column \d+: template render limit exceeded$/);
      expect(ms).toBeLessThan(1_000);
      const byDefault = failing(loop, list);
      expect(byDefault.message).toMatch(/render limit exceeded/);
      expect(byDefault.ms).toBeLessThan(1_500);
    });

    it('a huge range or string fails on memoryLimit before it is built', () => {
      for (const text of [
        '{% for i in (1..vars.n) %}{% endfor %}',
        '{% assign a = (1..vars.n) %}',
        '{% assign a = (1..1000) | join: "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" %}{% for i in (1..1000) %}{% assign b = a | append: a %}{% endfor %}',
      ]) {
        const { message, ms } = failing(text, [], { vars: { n: 1e15 } });
        expect(message).toMatch(/memory alloc limit exceeded/);
        expect(ms).toBeLessThan(1_000);
      }
      expect(failing('{% assign a = (1..5000) %}', [], { memoryLimit: 4096 }).message).toMatch(/memory alloc limit exceeded/);
      expect(render('{% assign a = (1..4000) %}{{ a.size }}', [], { memoryLimit: 4096 })).toBe('4000');
    });

    it('output over maxOutputBytes fails the render as soon as it passes the cap', () => {
      const { message, ms } = failing('{% for i in (1..1000000) %}{{ vars.s }}{% endfor %}', [], { vars: { s: 'x'.repeat(1000) }, maxOutputBytes: 1024 * 1024 });
      expect(message).toBe('template line 1, column 28: output larger than maxOutputBytes (1,048,576 bytes); the file was not written');
      expect(ms).toBeLessThan(500);
      // Counted in UTF-8 bytes: 6 characters, 12 bytes.
      expect(failing('éééééé', [], { maxOutputBytes: 10 }).message).toBe('template output: output larger than maxOutputBytes (10 bytes); the file was not written');
      expect(render('ééééé', [], { maxOutputBytes: 10 })).toBe('ééééé');
    });

    it('rawMeta: a field nested deeper than 64 levels is left out and reported, never overflows the stack', () => {
      const lines: string[] = [];
      // Built without member()'s JSON.stringify of the value, which would overflow itself.
      const m = { ...member('10.0.0.5:80', '10.0.0.5', 80), meta: { deep: nested(100_000), ok: nested(63), n: 2 ** 40 } };
      const out = render('{% for m in members %}{{ m.meta | json }}{% endfor %}', [m], { rawMeta: true }, { ...context, report: (p) => lines.push(p) });
      expect(JSON.parse(out)).toEqual({ ok: nested(63), n: 2 ** 40 });
      expect(lines).toEqual(['member 10.0.0.5:80: meta.deep ignored (nested more than 64 levels deep)']);
    });

    it('150k refused meta keys on one member make one report line, the same on every render', () => {
      const meta = Object.fromEntries(Array.from({ length: 150_000 }, (_, i) => [`x ${i}`, i]));
      const list = [member('10.0.0.5:80', '10.0.0.5', 80, { weight: 1, ...meta }), member('10.0.0.6:80', '10.0.0.6', 80, { weight: 'a b' })];
      const renders = [0, 1].map(() => {
        const lines: string[] = [];
        expect(render('{% for m in members %}{{ m.meta.weight }};{% endfor %}', list, {}, { ...context, report: (p) => lines.push(p) })).toBe('1;;');
        return lines;
      });
      expect(renders[0]).toEqual([
        'member 10.0.0.5:80: 150,000 meta fields ignored: meta."x 0" (key is not a name matching /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/), meta."x 1" (key is not a name matching /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/), meta."x 2" (key is not a name matching /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/), and 149,997 more',
        'member 10.0.0.6:80: meta.weight ignored (expected a string matching /^[A-Za-z0-9_.-]{1,64}$/)',
      ]);
      expect(renders[1]).toEqual(renders[0]);
    });

    it('a long hostile key is named by its first 64 characters only', () => {
      const lines: string[] = [];
      render('x', [member('10.0.0.5:80', '10.0.0.5', 80, { [`${'k'.repeat(64)}\n${'y'.repeat(10_000)}`]: 1 })], {}, { ...context, report: (p) => lines.push(p) });
      expect(lines).toEqual([`member 10.0.0.5:80: meta."${'k'.repeat(64)}"... ignored (key is not a name matching /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/)`]);
    });
  });
});
