import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isAbsolute, resolve } from 'node:path';
import type { Handler, Member, RenderContext } from '@cluster-control/core';
import type { Context as LiquidContext, Emitter, Liquid, Template } from 'liquidjs';
import type * as LiquidJs from 'liquidjs';
import { HandlerOptionsError } from './options-error.js';
import { metaBoolean, metaInteger, metaToken, refuseMeta, safeMembers, shallowMeta, withMetaReports } from './shared/meta.js';
import { OptionReader } from './shared/options.js';

export type TemplateOptions = {
  /** The compiled template (parsed once, at start-up). */
  readonly compiled: Template[];
  /** `template` for an inline template, else the template file's path: names the source in errors. */
  readonly source: string;
  /** The `vars` option: the operator's constants, plain JSON. */
  readonly vars: Readonly<Record<string, unknown>>;
  /** Hand meta to the template unchecked (unsafe unless the template escapes every value). */
  readonly rawMeta: boolean;
  /** Wall-clock milliseconds one render may take (liquidjs `renderLimit`). */
  readonly renderLimitMs: number;
  /** What one render may allocate, in liquidjs units: characters of strings and elements of arrays that filters and ranges create (liquidjs `memoryLimit`). */
  readonly memoryLimit: number;
  /** The largest output (UTF-8 bytes) a render may produce. */
  readonly maxOutputBytes: number;
};

/*
 * Limits, so that a template (or a member's meta fed to it) cannot block the process or exhaust
 * its memory. liquidjs checks renderLimit between the templates it renders (every loop iteration,
 * every tag), and charges memoryLimit before it builds a range or runs a filter, so the longest
 * a render blocks is about renderLimitMs plus one allocation of at most memoryLimit units (a
 * range of 8M elements takes ~0.2 s; 32M took 2.7 s and 600 MB, hence not 32M).
 */
export const TEMPLATE_DEFAULTS = Object.freeze({
  renderLimitMs: 500,
  memoryLimit: 8 * 1024 * 1024,
  maxOutputBytes: 16 * 1024 * 1024,
});

/** Template text compiled at start-up: far more than any config template, far less than memory. */
const PARSE_LIMIT = 4 * 1024 * 1024;

/**
 * The integers a template sees in meta (unless rawMeta): at most a million either way. The largest
 * value any built-in handler takes (nginx max_conns, haproxy maxconn) is 1,000,000, and a range
 * over a member's number — `(1..m.meta.weight)` — stays at most 2M elements (~50 ms). Outside
 * it a number is refused (left out and reported, so `| default:` applies), not clamped: a clamped
 * value would be a number the registrant never wrote.
 */
export const META_INTEGER_RANGE = Object.freeze({ min: -1_000_000, max: 1_000_000 });

/*
 * Liquid has no way to run JavaScript; on top of that the engine is cut down so a template can
 * neither read files nor depend on the clock or chance: no include/render/layout, no date filters
 * (they accept "now"), no `sample` (random). `base64_decode` is gone too: it is the one filter
 * that turns a checked meta token back into arbitrary bytes. Unknown filters are errors.
 */
let loaded:
  | {
      engine: Liquid;
      LiquidError: typeof LiquidJs.LiquidError;
      Context: typeof LiquidJs.Context;
      Drop: typeof LiquidJs.Drop;
      toValueSync: typeof LiquidJs.toValueSync;
    }
  | undefined;

/**
 * liquidjs, loaded on first use: it is a large module graph, and most commands (and most
 * configurations) never render a template. Required, not imported, so parseOptions stays synchronous.
 */
function liquid(): NonNullable<typeof loaded> {
  if (loaded) return loaded;
  const { Liquid, LiquidError, Context, Drop, toValueSync } = createRequire(import.meta.url)('liquidjs') as typeof LiquidJs;
  const engine = new Liquid({ ownPropertyOnly: true, strictFilters: true, templates: {}, parseLimit: PARSE_LIMIT });
  for (const tag of ['include', 'render', 'layout']) delete engine.tags[tag];
  for (const filter of ['date', 'date_to_xmlschema', 'date_to_rfc822', 'date_to_string', 'date_to_long_string', 'sample', 'base64_decode']) {
    delete engine.filters[filter];
  }
  loaded = { engine, LiquidError, Context, Drop, toValueSync };
  return loaded;
}

/** Meta keys a template may see by default. */
const META_KEY = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;

/** Any file format, from a Liquid template (liquidjs) loaded and compiled at start-up. */
export const template: Handler<TemplateOptions> = {
  name: 'template',

  parseOptions(raw, context) {
    const options = new OptionReader(raw);
    const inline = options.string('template');
    const written = options.string('templateFile');
    const vars = plainVars(options.any('vars'));
    const rawMeta = options.boolean('rawMeta', false);
    const renderLimitMs = options.integer('renderLimitMs', { default: TEMPLATE_DEFAULTS.renderLimitMs, min: 1, max: 60_000 });
    const memoryLimit = options.integer('memoryLimit', { default: TEMPLATE_DEFAULTS.memoryLimit, min: 1024, max: 1024 * 1024 * 1024 });
    const maxOutputBytes = options.integer('maxOutputBytes', { default: TEMPLATE_DEFAULTS.maxOutputBytes, min: 1, max: 1024 * 1024 * 1024 });
    options.done();

    if ((inline === undefined) === (written === undefined)) throw new HandlerOptionsError('template', 'set exactly one of "template" (the template text) or "templateFile" (its path)');
    let file: string | undefined;
    if (written !== undefined) {
      // Relative to the configuration file, like every path in it; never to whatever the cwd is.
      if (isAbsolute(written)) file = written;
      else if (context) file = resolve(context.baseDir, written);
      else throw new HandlerOptionsError('templateFile', `must be an absolute path when the options do not come from a configuration file (got ${JSON.stringify(written)})`);
    }
    let text: string;
    let source: string;
    if (file !== undefined) {
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        throw new HandlerOptionsError('templateFile', `cannot read ${file}: ${(err as Error).message}`);
      }
      source = file;
    } else {
      text = inline!;
      source = 'template';
    }

    let compiled: Template[];
    try {
      compiled = liquid().engine.parse(text);
    } catch (err) {
      throw new HandlerOptionsError(file !== undefined ? 'templateFile' : 'template', describe(err, file));
    }
    return { compiled, source, vars, rawMeta, renderLimitMs, memoryLimit, maxOutputBytes };
  },

  render(members, options, outer) {
    return withMetaReports(outer, (context) => {
      const scope = {
        members: safeMembers(members, context).map((m) => ({ name: m.name, host: m.host, port: m.port ?? null, meta: options.rawMeta ? shallowMeta(m, context) : safeMeta(m, context) })),
        cluster: { name: context.cluster, path: context.path },
        vars: options.vars,
      };
      const source = options.source === 'template' ? undefined : options.source;
      let text: string;
      try {
        text = renderCapped(options, scope);
      } catch (err) {
        throw new Error(`template ${describe(err, source)}`);
      }
      const bytes = Buffer.byteLength(text);
      if (bytes > options.maxOutputBytes) throw new Error(`template ${source ?? 'output'}: ${outputTooLarge(options.maxOutputBytes).message}`);
      return text;
    });
  },
};

function outputTooLarge(max: number): Error {
  return new Error(`output larger than maxOutputBytes (${max.toLocaleString('en-US')} bytes); the file was not written`);
}

/**
 * renderSync with this handler's limits, writing into an emitter that stops the render as soon as
 * the output passes maxOutputBytes (liquidjs charges memoryLimit for what filters build, not for
 * what the template prints, so without it a loop could print gigabytes within renderLimitMs).
 * Output length in UTF-16 units is a lower bound of its UTF-8 bytes; the caller checks the bytes.
 */
function renderCapped(options: TemplateOptions, scope: object): string {
  const { engine, Context, Drop, toValueSync } = liquid();
  const ctx: LiquidContext = new Context(scope, engine.options, { sync: true, renderLimit: options.renderLimitMs, memoryLimit: options.memoryLimit }, { liquid: engine });
  const stringify = (value: unknown): string => {
    const v: unknown = value instanceof Drop && typeof value.valueOf === 'function' ? value.valueOf() : value;
    if (typeof v === 'string') return v;
    if (v === null || v === undefined) return '';
    if (Array.isArray(v)) return v.map(stringify).join('');
    // eslint-disable-next-line @typescript-eslint/no-base-to-string -- liquidjs's own stringify, kept identical: an object prints as String(object) does
    return String(v);
  };
  const emitter: Emitter = {
    buffer: '',
    write(html: unknown) {
      emitter.buffer += stringify(html);
      if (emitter.buffer.length > options.maxOutputBytes) throw outputTooLarge(options.maxOutputBytes);
    },
  };
  toValueSync(engine.renderer.renderTemplates(options.compiled, ctx, emitter));
  return emitter.buffer;
}

/** One line (newlines in quoted template text shown as \n): `FILE:LINE:COL: message`, or `line L, column C: message` inline. */
function describe(err: unknown, file: string | undefined): string {
  const message = (err instanceof Error ? err.message : String(err)).replace(/, line:\d+, col:\d+$/, '').replace(/\r?\n/g, '\\n');
  if (!(err instanceof liquid().LiquidError)) return file !== undefined ? `${file}: ${message}` : message;
  const [line, column] = err.token.getPosition();
  return file !== undefined ? `${file}:${line}:${column}: ${message}` : `line ${line}, column ${column}: ${message}`;
}

/**
 * The meta fields that cannot break any format: integers within META_INTEGER_RANGE, true/false,
 * and short tokens of [A-Za-z0-9_.-] under keys of the same kind. The rest is left out and
 * reported (one line per member, see withMetaReports).
 */
function safeMeta(member: Member, context: RenderContext): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(member.meta)) {
    if (!META_KEY.test(key)) {
      refuseMeta(member, key, `key is not a name matching ${META_KEY}`, context);
      continue;
    }
    const checked =
      typeof value === 'number' ? metaInteger(member, key, META_INTEGER_RANGE, context) : typeof value === 'boolean' ? metaBoolean(member, key, context) : metaToken(member, key, context);
    if (checked !== undefined) result[key] = checked;
  }
  return result;
}

/** `vars`: an object of plain JSON values (strings, finite numbers, booleans, null, arrays, objects). */
function plainVars(value: unknown): Record<string, unknown> {
  if (value === undefined) return {};
  if (!isPlainObject(value)) throw new HandlerOptionsError('vars', 'must be an object');
  const check = (v: unknown, path: string): void => {
    if (v === null || typeof v === 'string' || typeof v === 'boolean') return;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) throw new HandlerOptionsError(path, 'must be a finite number');
      return;
    }
    if (Array.isArray(v)) return v.forEach((item, i) => check(item, `${path}[${i}]`));
    if (isPlainObject(v)) return Object.entries(v).forEach(([k, item]) => check(item, `${path}.${k}`));
    throw new HandlerOptionsError(path, 'must be a JSON value (string, number, true/false, null, array or object)');
  };
  check(value, 'vars');
  return value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}
