import { HandlerOptionsError } from '../options-error.js';

/**
 * Reads a handler's options field by field, so every handler validates the same way and names
 * the field in its errors. Call `done()` last: any option nobody read is an error (a typo).
 */
export class OptionReader {
  private readonly seen = new Set<string>();
  private readonly raw: Record<string, unknown>;

  constructor(raw: unknown) {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new HandlerOptionsError('', 'options must be an object');
    this.raw = raw as Record<string, unknown>;
  }

  private take(name: string): unknown {
    this.seen.add(name);
    return Object.hasOwn(this.raw, name) ? this.raw[name] : undefined;
  }

  string(name: string, options: { default: string; pattern?: RegExp; describe?: string }): string;
  string(name: string, options?: { pattern?: RegExp; describe?: string }): string | undefined;
  string(name: string, options: { default?: string; pattern?: RegExp; describe?: string } = {}): string | undefined {
    const value = this.take(name);
    if (value === undefined) return options.default;
    if (typeof value !== 'string') throw new HandlerOptionsError(name, 'must be a string');
    if (options.pattern && !options.pattern.test(value)) throw new HandlerOptionsError(name, `must be ${options.describe ?? `a string matching ${options.pattern}`}`);
    return value;
  }

  integer(name: string, options: { default: number; min?: number; max?: number }): number;
  integer(name: string, options?: { min?: number; max?: number }): number | undefined;
  integer(name: string, options: { default?: number; min?: number; max?: number } = {}): number | undefined {
    const value = this.take(name);
    if (value === undefined) return options.default;
    const { min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER } = options;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new HandlerOptionsError(name, `must be an integer from ${min} to ${max}`);
    }
    return value;
  }

  boolean(name: string, fallback: boolean): boolean {
    const value = this.take(name);
    if (value === undefined) return fallback;
    if (typeof value !== 'boolean') throw new HandlerOptionsError(name, 'must be true or false');
    return value;
  }

  oneOf<const T extends string>(name: string, choices: readonly T[], fallback: T): T {
    const value = this.take(name);
    if (value === undefined) return fallback;
    if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
      throw new HandlerOptionsError(name, `must be one of ${choices.map((c) => JSON.stringify(c)).join(', ')}`);
    }
    return value as T;
  }

  /** The raw value, for options with a shape of their own; the caller validates it. */
  any(name: string): unknown {
    return this.take(name);
  }

  done(): void {
    for (const key of Object.keys(this.raw)) {
      if (!this.seen.has(key)) throw new HandlerOptionsError(key, `unknown option (known: ${[...this.seen].join(', ') || 'none'})`);
    }
  }
}

/** Names a handler writes into a config as identifiers (balancer, upstream, backend names). */
export const IDENTIFIER = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;
export const IDENTIFIER_TEXT = 'letters, digits, "_", "." and "-" (at most 64, not starting with "." or "-")';
