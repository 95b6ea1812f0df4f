/**
 * A mistake in the configuration. Its message is meant to be printed as-is, on one line and
 * without a stack trace (the CLI exits 2); it starts with the configuration file's path.
 */
export class ConfigError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    // Messages quote user-supplied text; a newline in it must not break the one-line promise.
    super(message.replace(/\s*[\r\n]+\s*/g, ' '), options);
    this.name = 'ConfigError';
  }
}
