import { ErrorCode } from '../util/error-codes.js';

/**
 * A mistake in the configuration. Its message is meant to be printed as-is, on one line and
 * without a stack trace (the CLI exits 2); it starts with the configuration file's path.
 */
export class ConfigError extends Error {
  readonly code = ErrorCode.CC_CONFIG_INVALID;

  constructor(message: string, options?: ErrorOptions) {
    // Messages quote user-supplied text; a newline in it must not break the one-line promise.
    // Each run of blanks that holds a line break becomes one space; the blank runs are matched
    // whole (\s+), since a pattern like /\s*[\r\n]+/ takes quadratic time on a long blank run.
    super(
      message.replace(/\s+/g, (blanks) => (/[\r\n]/.test(blanks) ? ' ' : blanks)),
      options,
    );
    this.name = 'ConfigError';
  }
}
