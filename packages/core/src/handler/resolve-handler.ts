import { createRequire } from 'node:module';
import { isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '../config/config-error.js';
import { describeError } from '../util/describe-error.js';
import { type AnyHandler, isHandler } from './handler.js';

export interface ResolveHandlerOptions {
  /** Built-in handlers by name (from `@cluster-control/handlers`); core itself ships none. */
  builtins: Readonly<Record<string, AnyHandler>>;
  /** Where relative module paths and package names are resolved from: the config file's directory. */
  baseDir: string;
  /** Names the field in errors, e.g. `clusters[1].handler`. */
  field?: string;
}

/**
 * The built-in name a PHP handler class maps to: `AlanKent\ClusterControl\Handlers\MySQLHandler` → `mysql`.
 * Any namespaced `...\XxxHandler` maps to `xxx`, so third-party PHP names get a clear "unknown handler".
 */
export function builtinNameFor(spec: string): string | undefined {
  const php = /^\\?(?:[A-Za-z_][A-Za-z0-9_]*\\)+([A-Za-z0-9_]+?)Handler$/.exec(spec);
  if (php) return php[1]!.toLowerCase();
  return /^[a-z][a-z0-9-]*$/.test(spec) ? spec : undefined;
}

const looksLikePath = (spec: string) => spec.startsWith('.') || isAbsolute(spec) || /\.(m?js|cjs)$/.test(spec);

/** Finds the handler a config names: a built-in name, a PHP class name, a module path or a package name. */
export async function resolveHandler(spec: string, options: ResolveHandlerOptions): Promise<AnyHandler> {
  const field = options.field ?? 'handler';
  const builtin = builtinNameFor(spec);
  if (builtin !== undefined && Object.hasOwn(options.builtins, builtin)) return options.builtins[builtin]!;
  if (spec.includes('\\')) {
    throw new ConfigError(`${field}: unknown handler ${JSON.stringify(spec)} (built-in: ${Object.keys(options.builtins).join(', ')})`);
  }
  let url: string;
  try {
    url = looksLikePath(spec) ? pathToFileURL(resolve(options.baseDir, spec)).href : pathToFileURL(createRequire(join(options.baseDir, 'noop.js')).resolve(spec)).href;
  } catch {
    const known = Object.keys(options.builtins).join(', ');
    throw new ConfigError(`${field}: unknown handler ${JSON.stringify(spec)}: not a built-in (${known}), and no module or package of that name was found from ${options.baseDir}`);
  }
  let mod: Record<string, unknown>;
  try {
    mod = (await import(url)) as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError(`${field}: could not load handler module ${JSON.stringify(spec)}: ${describeError(err)}`);
  }
  const candidate = [mod.default, mod.handler].find(isHandler);
  if (!candidate) {
    throw new ConfigError(`${field}: module ${JSON.stringify(spec)} exports no handler (expected a default or \`handler\` export with name, parseOptions and render)`);
  }
  return candidate;
}
