import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { intFromEnv } from '../../core/env.js';
import { ToolError } from '../../core/errors.js';
import { toolError, toolResult } from '../tool-result.js';
import type { HostedServer, ServerContext } from '../types.js';
import { checkQueryText } from './guard.js';
import { QueryPool } from './pool.js';
import type { Job, JobResult, ResultLimits } from './protocol.js';
import { existsSync } from 'node:fs';
import { ConfigError } from '../../core/errors.js';

export interface SqliteSettings {
  readonly file: string;
  readonly limits: ResultLimits;
  readonly timeoutMs: number;
  readonly memoryMb: number;
  readonly workers: number;
  readonly recycleMb: number;
  readonly maxQueryLength: number;
}

export function sqliteSettingsFromEnv(env: ServerContext['env']): SqliteSettings | undefined {
  const file = env.SQLITE_DB_FILE?.trim();
  if (!file) return undefined;
  if (!existsSync(file))
    throw new ConfigError('SQLITE_DB_FILE', 'the database file does not exist');
  return {
    file,
    limits: {
      maxRows: intFromEnv(env, 'SQLITE_MAX_ROWS', 1000),
      maxBytes: intFromEnv(env, 'SQLITE_MAX_BYTES', 256 * 1024, 1024),
    },
    timeoutMs: intFromEnv(env, 'SQLITE_QUERY_TIMEOUT_MS', 5000, 10),
    memoryMb: intFromEnv(env, 'SQLITE_MEMORY_LIMIT_MB', 1536, 1024),
    workers: intFromEnv(env, 'SQLITE_WORKERS', 2),
    recycleMb: intFromEnv(env, 'SQLITE_RECYCLE_MB', 128, 1),
    maxQueryLength: intFromEnv(env, 'SQLITE_MAX_QUERY_LENGTH', 100_000),
  };
}

const columnSchema = z.object({
  name: z.string(),
  type: z.string(),
  not_null: z.boolean(),
  default_value: z.string().nullable(),
  primary_key: z.boolean(),
});

const READ_ONLY = { readOnlyHint: true, idempotentHint: true, openWorldHint: false } as const;

/**
 * `/sqlite`: read-only access to one SQLite database. Every job runs in a disposable child
 * process (see pool.ts); schema lookups get a process of their own so they stay fast while
 * heavy queries run.
 */
export async function createSqliteServer(ctx: ServerContext): Promise<HostedServer | undefined> {
  const settings = sqliteSettingsFromEnv(ctx.env);
  if (!settings) {
    ctx.logger.info('sqlite: SQLITE_DB_FILE is not set; /sqlite is off');
    return undefined;
  }
  const { queries, schema } = await startPools(settings, ctx.logger);
  const run = jobRunner(ctx.logger);
  const mcp = new McpServer({ name: 'portcullis-sqlite', version: '0.1.0' });
  registerSchemaTools(mcp, (job, signal) => run(schema, job, signal));
  registerQueryTools(mcp, settings, (job, signal) => run(queries, job, signal));
  return {
    name: 'sqlite',
    path: '/sqlite',
    mcp,
    close: async () => {
      await Promise.all([queries.close(), schema.close()]);
    },
  };
}

/** How long a query process started for a burst of concurrent queries outlives the burst. */
const IDLE_MS = 10_000;

/** Schema lookups get a pool of their own so they stay fast while heavy queries run. */
export async function startPools(settings: SqliteSettings, logger: ServerContext['logger']) {
  const common = {
    file: settings.file,
    timeoutMs: settings.timeoutMs,
    memoryMb: settings.memoryMb,
    recycleMb: settings.recycleMb,
    idleMs: IDLE_MS,
    warm: 1,
    logger,
  };
  const queries = new QueryPool({
    ...common,
    name: 'queries',
    size: settings.workers,
    maxQueue: 64,
  });
  const schema = new QueryPool({ ...common, name: 'schema', size: 1, maxQueue: 256 });
  try {
    await Promise.all([queries.start(), schema.start()]);
  } catch (err) {
    await Promise.all([queries.close(), schema.close()]);
    throw err;
  }
  return { queries, schema };
}

type RunJob = (job: Job, signal: AbortSignal) => Promise<CallToolResult>;

/** Runs a job on a pool; a refused or stopped job is a tool error, anything else throws. */
function jobRunner(logger: ServerContext['logger']) {
  return async (pool: QueryPool, job: Job, signal: AbortSignal): Promise<CallToolResult> => {
    let result: JobResult;
    try {
      result = await pool.run(job, signal);
    } catch (err) {
      if (err instanceof ToolError) {
        logger.info({ code: err.code, op: job.op }, 'sqlite: job refused or stopped');
        return toolError(err.code, err.message, err.details);
      }
      throw err;
    }
    return toolResult(result as unknown as Record<string, unknown>);
  };
}

function registerSchemaTools(mcp: McpServer, run: RunJob): void {
  mcp.registerTool(
    'list_tables',
    {
      title: 'List tables',
      description: 'Lists the tables and views in the database.',
      inputSchema: {},
      outputSchema: {
        tables: z.array(z.object({ name: z.string(), type: z.enum(['table', 'view']) })),
      },
      annotations: READ_ONLY,
    },
    (_args, extra) => run({ op: 'list_tables' }, extra.signal),
  );
  mcp.registerTool(
    'describe_table',
    {
      title: 'Describe table',
      description:
        'Shows the columns of a table or view: name, declared type, NOT NULL, default and primary key.',
      inputSchema: { table_name: z.string().min(1).describe('Exact table or view name') },
      outputSchema: { table: z.string(), columns: z.array(columnSchema) },
      annotations: READ_ONLY,
    },
    ({ table_name }, extra) => {
      if (table_name.includes('\0'))
        return toolError('invalid_name', 'the table name contains a NUL character');
      return run({ op: 'describe_table', table: table_name }, extra.signal);
    },
  );
}

function registerQueryTools(mcp: McpServer, settings: SqliteSettings, run: RunJob): void {
  mcp.registerTool(
    'read_query',
    {
      title: 'Run a read-only query',
      description:
        `Runs one read-only SQL statement (SELECT, WITH … SELECT, VALUES) and returns its rows as objects. ` +
        `At most ${settings.limits.maxRows} rows and about ${Math.round(settings.limits.maxBytes / 1024)} KiB come back ` +
        `(truncated: true says there was more; add LIMIT/OFFSET or narrow the query); queries stop after ` +
        `${settings.timeoutMs / 1000} s. Writes, PRAGMA, ATTACH and transactions are refused. BLOBs are summarised by size.`,
      inputSchema: { query: z.string().min(1).describe('One SQLite SELECT statement') },
      outputSchema: {
        columns: z.array(z.string()),
        rows: z.array(z.record(z.string(), z.unknown())),
        row_count: z.number().int(),
        truncated: z.boolean(),
        truncated_by: z.enum(['max_rows', 'max_bytes']).optional(),
      },
      annotations: READ_ONLY,
    },
    ({ query }, extra) => {
      const check = checkQueryText(query, settings.maxQueryLength);
      if (!check.ok) return toolError('refused', `query refused: ${check.reason}`);
      return run({ op: 'read_query', sql: query, limits: settings.limits }, extra.signal);
    },
  );
  mcp.registerTool(
    'update',
    {
      title: 'Update rows (demonstration; never writes)',
      description:
        'Demonstrates tool-level policy: a gateway policy can deny this tool by name. ' +
        'This server is read-only, so the tool never changes anything; it reports the update it was asked for.',
      inputSchema: {
        table_name: z.string().describe('Table to update'),
        set_clause: z.string().describe('SET clause, e.g. "price = 10"'),
        where_clause: z.string().describe('WHERE clause, e.g. "id = 1"'),
      },
      outputSchema: { updated: z.literal(false), message: z.string() },
      annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    },
    ({ table_name }) =>
      toolResult({
        updated: false,
        message: `No rows changed: this server is read-only, and the update of ${JSON.stringify(table_name)} was not performed.`,
      }),
  );
}
