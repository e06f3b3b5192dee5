/**
 * The comparison point for the servers host: the MCP SDK's plain stateless pattern on
 * node:http, i.e. a new McpServer and StreamableHTTPServerTransport (sessionIdGenerator:
 * undefined) for every request, as in the SDK's stateless example. It serves the same tools
 * with the same schemas as /whoami and /sqlite, backed by the same assertion verifier and
 * the same SQLite query processes, so only the way MCP requests are served differs.
 *
 * Run as a process of its own: PORT, SQLITE_DB_FILE, ASSERTION_JWKS_URL, ASSERTION_ISSUERS;
 * SDK_JSON_RESPONSE=0 answers with SSE (the transport's default) instead of JSON.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { pino } from 'pino';
import { z } from 'zod';
import { ASSERTION_HEADER, createAssertionVerifier } from '../../src/assertion/verify.js';
import { toolError, toolResult } from '../../src/servers/tool-result.js';
import { checkQueryText } from '../../src/servers/sqlite/guard.js';
import type { QueryPool } from '../../src/servers/sqlite/pool.js';
import { sqliteSettingsFromEnv, startPools } from '../../src/servers/sqlite/server.js';
import type { Job } from '../../src/servers/sqlite/protocol.js';

const env = process.env;
const logger = pino({ level: 'warn' });
const jsonResponse = env.SDK_JSON_RESPONSE !== '0';
const READ_ONLY = { readOnlyHint: true, idempotentHint: true, openWorldHint: false } as const;

const verify = createAssertionVerifier({
  jwksUrl: new URL(env.ASSERTION_JWKS_URL ?? 'http://127.0.0.1:9/jwks.json'),
  issuers: (env.ASSERTION_ISSUERS ?? '').split(','),
});

function whoamiServer(): McpServer {
  const mcp = new McpServer({ name: 'reference-whoami', version: '0.0.0' });
  mcp.registerTool(
    'whoami',
    {
      title: 'Who am I',
      description: 'Returns the signed-in user as asserted by the gateway.',
      inputSchema: {},
      outputSchema: {
        name: z.string().nullable(),
        email: z.string().nullable(),
        sub: z.string(),
        groups: z.array(z.string()),
      },
      annotations: READ_ONLY,
    },
    async (_args, extra) => {
      try {
        const id = await verify(extra.requestInfo?.headers[ASSERTION_HEADER]);
        const { sub, groups } = id;
        return toolResult({ name: id.name ?? null, email: id.email ?? null, sub, groups });
      } catch (err) {
        return toolError('refused', (err as Error).message);
      }
    },
  );
  return mcp;
}

const settings = sqliteSettingsFromEnv(env);
// The same pools as the host's /sqlite, so only the MCP serving differs.
const pools = settings && (await startPools(settings, logger));
const queries = pools?.queries;
const schema = pools?.schema;

async function run(pool: QueryPool, job: Job, signal: AbortSignal) {
  try {
    return toolResult((await pool.run(job, signal)) as unknown as Record<string, unknown>);
  } catch (err) {
    return toolError('failed', (err as Error).message);
  }
}

function sqliteServer(): McpServer {
  const mcp = new McpServer({ name: 'reference-sqlite', version: '0.0.0' });
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
    (_args, extra) => run(schema!, { op: 'list_tables' }, extra.signal),
  );
  mcp.registerTool(
    'describe_table',
    {
      title: 'Describe table',
      description: 'Shows the columns of a table or view.',
      inputSchema: { table_name: z.string().min(1) },
      outputSchema: {
        table: z.string(),
        columns: z.array(
          z.object({
            name: z.string(),
            type: z.string(),
            not_null: z.boolean(),
            default_value: z.string().nullable(),
            primary_key: z.boolean(),
          }),
        ),
      },
      annotations: READ_ONLY,
    },
    ({ table_name }, extra) =>
      run(schema!, { op: 'describe_table', table: table_name }, extra.signal),
  );
  mcp.registerTool(
    'read_query',
    {
      title: 'Run a read-only query',
      description: 'Runs one read-only SQL statement and returns its rows as objects.',
      inputSchema: { query: z.string().min(1) },
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
      const check = checkQueryText(query, settings!.maxQueryLength);
      if (!check.ok) return toolError('refused', check.reason);
      return run(
        queries!,
        { op: 'read_query', sql: query, limits: settings!.limits },
        extra.signal,
      );
    },
  );
  mcp.registerTool(
    'update',
    {
      title: 'Update rows (demonstration; never writes)',
      description: 'Reports the update it was asked for; never writes.',
      inputSchema: { table_name: z.string(), set_clause: z.string(), where_clause: z.string() },
      outputSchema: { updated: z.literal(false), message: z.string() },
      annotations: READ_ONLY,
    },
    () => toolResult({ updated: false, message: 'No rows changed.' }),
  );
  return mcp;
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const build =
    req.url === '/whoami' ? whoamiServer : req.url === '/sqlite' && settings ? sqliteServer : null;
  if (!build || req.method !== 'POST') {
    res.writeHead(404).end();
    return;
  }
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const body: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  // The SDK's stateless example: everything is built for this request and closed with it.
  const server = build();
  const transport = new StreamableHTTPServerTransport({
    sessionIdGenerator: undefined,
    enableJsonResponse: jsonResponse,
  });
  res.on('close', () => {
    void transport.close();
    void server.close();
  });
  await server.connect(transport);
  await transport.handleRequest(req, res, body);
}

const http = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  handle(req, res).catch((err: unknown) => {
    logger.error({ err }, 'request failed');
    if (!res.headersSent) res.writeHead(500);
    res.end();
  });
});
http.listen(Number(env.PORT ?? 0), '127.0.0.1');

const stop = () => {
  http.close();
  http.closeAllConnections();
  void Promise.all([queries?.close(), schema?.close()]).then(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
