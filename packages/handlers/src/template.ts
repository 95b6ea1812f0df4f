import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isAbsolute } from 'node:path';
import type { Handler, Member, RenderContext } from '@cluster-control/core';
import type { Liquid, Template } from 'liquidjs';
import { HandlerOptionsError } from './options-error.js';
import { metaBoolean, metaInteger, metaToken, safeMembers } from './shared/meta.js';
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
};

/*
 * Liquid has no way to run JavaScript; on top of that the engine is cut down so a template can
 * neither read files nor depend on the clock or chance: no include/render/layout, no date filters
 * (they accept "now"), no `sample` (random). `base64_decode` is gone too: it is the one filter
 * that turns a checked meta token back into arbitrary bytes. Unknown filters are errors.
 */
let loaded: { engine: Liquid; LiquidError: typeof import('liquidjs').LiquidError } | undefined;

/**
 * liquidjs, loaded on first use: it is a large module graph, and most commands (and most
 * configurations) never render a template. Required, not imported, so parseOptions stays synchronous.
 */
function liquid(): NonNullable<typeof loaded> {
  if (loaded) return loaded;
  const { Liquid, LiquidError } = createRequire(import.meta.url)('liquidjs') as typeof import('liquidjs');
  const engine = new Liquid({ ownPropertyOnly: true, strictFilters: true, templates: {} });
  for (const tag of ['include', 'render', 'layout']) delete engine.tags[tag];
  for (const filter of ['date', 'date_to_xmlschema', 'date_to_rfc822', 'date_to_string', 'date_to_long_string', 'sample', 'base64_decode']) {
    delete engine.filters[filter];
  }
  loaded = { engine, LiquidError };
  return loaded;
}

/** Meta keys a template may see by default. */
const META_KEY = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;

/** Any file format, from a Liquid template (liquidjs) loaded and compiled at start-up. */
export const template: Handler<TemplateOptions> = {
  name: 'template',

  parseOptions(raw) {
    const options = new OptionReader(raw);
    const inline = options.string('template');
    const file = options.string('templateFile');
    const vars = plainVars(options.any('vars'));
    const rawMeta = options.boolean('rawMeta', false);
    options.done();

    if ((inline === undefined) === (file === undefined)) throw new HandlerOptionsError('template', 'set exactly one of "template" (the template text) or "templateFile" (its absolute path)');
    let text: string;
    let source: string;
    if (file !== undefined) {
      // parseOptions doesn't know the config file's directory, so a relative path would depend on the cwd.
      if (!isAbsolute(file)) throw new HandlerOptionsError('templateFile', `must be an absolute path (got ${JSON.stringify(file)})`);
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
    return { compiled, source, vars, rawMeta };
  },

  render(members, options, context) {
    const scope = {
      members: safeMembers(members, context).map((m) => ({ name: m.name, host: m.host, port: m.port ?? null, meta: options.rawMeta ? m.meta : safeMeta(m, context) })),
      cluster: { name: context.cluster, path: context.path },
      vars: options.vars,
    };
    try {
      return String(liquid().engine.renderSync(options.compiled, scope));
    } catch (err) {
      throw new Error(`template ${describe(err, options.source === 'template' ? undefined : options.source)}`);
    }
  },
};

/** One line (newlines in quoted template text shown as \n): `FILE:LINE:COL: message`, or `line L, column C: message` inline. */
function describe(err: unknown, file: string | undefined): string {
  const message = (err instanceof Error ? err.message : String(err)).replace(/, line:\d+, col:\d+$/, '').replace(/\r?\n/g, '\\n');
  if (!(err instanceof liquid().LiquidError)) return file !== undefined ? `${file}: ${message}` : message;
  const [line, column] = err.token.getPosition();
  return file !== undefined ? `${file}:${line}:${column}: ${message}` : `line ${line}, column ${column}: ${message}`;
}

/**
 * The meta fields that cannot break any format: integers, true/false, and short tokens of
 * [A-Za-z0-9_.-] under keys of the same kind. The rest is reported and left out.
 */
function safeMeta(member: Member, context: RenderContext): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(member.meta)) {
    if (!META_KEY.test(key)) {
      context.report?.(`member ${member.name}: meta key ${JSON.stringify(key)} ignored (expected a name matching ${META_KEY})`);
      continue;
    }
    const checked =
      typeof value === 'number'
        ? metaInteger(member, key, { min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }, context)
        : typeof value === 'boolean'
          ? metaBoolean(member, key, context)
          : metaToken(member, key, context);
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
