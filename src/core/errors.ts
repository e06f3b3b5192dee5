/**
 * A configuration error found at start-up: names the setting and says what is expected.
 * `source` is the variable or `FILE:LINE key` the value came from.
 */
export class ConfigError extends Error {
  readonly code = 'ERR_CONFIG';
  constructor(
    readonly source: string,
    message: string,
  ) {
    super(`${source}: ${message}`);
    this.name = 'ConfigError';
  }
}

/**
 * An error a tool reports to its caller as a tool result with `isError: true`.
 * The message is meant for the user and the model, so it must not leak internals.
 */
export class ToolError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'ToolError';
  }
}
