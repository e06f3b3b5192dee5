import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Logger } from 'pino';

/** One MCP server mounted on the servers host at an exact path. */
export interface HostedServer {
  /** Short name used in logs, e.g. `sqlite`. */
  readonly name: string;
  /** Exact URL path the server answers at, e.g. `/sqlite`. */
  readonly path: string;
  /** The SDK server with its tools registered; the host connects it to its HTTP transport. */
  readonly mcp: McpServer;
  /** Releases what the server holds (child processes, pools). */
  close(): Promise<void>;
}

export interface ServerContext {
  /** The process environment (or a test's stand-in); each server reads its own variables. */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly logger: Logger;
}

/**
 * Builds a server. Resolves to undefined when the server is not enabled by its settings;
 * throws (a `ConfigError` for bad settings) when it is enabled but cannot start.
 */
export type ServerFactory = (ctx: ServerContext) => Promise<HostedServer | undefined>;
