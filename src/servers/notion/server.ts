import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { extractNotionId } from '@notionhq/client';
import type { IncomingHttpHeaders } from 'node:http';
import { z } from 'zod';
import { ToolError } from '../../core/errors.js';
import { toolResult } from '../tool-result.js';
import type { HostedServer, ServerContext } from '../types.js';
import { bindNotionApi, createNotionClient, type NotionApi } from './api.js';
import { notionConfigFromEnv, type NotionConfig } from './config.js';
import { fetchDocument } from './document.js';
import { realSleep, type RetryPolicy } from './retry.js';
import { searchWorkspace } from './search.js';
import { NOT_CONNECTED, notionToolError } from './tool-errors.js';

export interface NotionServerDeps {
  /** Waits between retries; tests pass one that does not sleep. */
  readonly sleep?: (ms: number) => Promise<void>;
}

// Output shapes of OpenAI's deep-research contract: `search` → {results:[{id,title,url}]},
// `fetch` → {id,title,text,url,metadata}.
const searchOutput = {
  results: z
    .array(
      z.object({
        id: z.string().describe('Notion id of the page or data source; pass it to fetch'),
        title: z.string(),
        url: z.string().describe('Notion URL, for citation'),
      }),
    )
    .describe('Matches, best first'),
};

const fetchOutput = {
  id: z.string(),
  title: z.string(),
  text: z.string().describe('The page as Markdown, or a database as a Markdown table'),
  url: z.string().describe('Notion URL, for citation'),
  metadata: z
    .record(z.string(), z.string())
    .describe('Page properties as text; for databases, the object kind and row count'),
};

/**
 * `/notion`: search and read the caller's Notion workspace with the Notion token the gateway
 * sends as `Authorization: Bearer`. Always on: the token comes with each request, never
 * from settings, and nothing is kept between requests.
 */
export async function createNotionServer(
  ctx: ServerContext,
  deps: NotionServerDeps = {},
): Promise<HostedServer> {
  const config = notionConfigFromEnv(ctx.env);
  const logger = ctx.logger.child({ server: 'notion' });
  const client = createNotionClient(config, logger);
  const retry: RetryPolicy = {
    maxRetries: config.maxRetries,
    maxWaitMs: config.maxRetryWaitMs,
    sleep: deps.sleep ?? realSleep,
    onRetry: (info) => logger.info(info, 'notion: slowed down, retrying'),
  };
  const withApi: WithApi = async (headers, run) => {
    try {
      return toolResult(await run(bindNotionApi(client, bearerToken(headers), retry)));
    } catch (err) {
      return notionToolError(err, logger);
    }
  };

  const mcp = new McpServer({ name: 'portcullis-notion', version: '0.1.0' });
  registerSearch(mcp, config, withApi);
  registerFetch(mcp, config, withApi);
  return { name: 'notion', path: '/notion', mcp, close: async () => {} };
}

/** Runs one tool call against the caller's Notion, with its errors as tool errors. */
type WithApi = (
  headers: IncomingHttpHeaders | undefined,
  run: (api: NotionApi) => Promise<Record<string, unknown>>,
) => Promise<CallToolResult>;

function registerSearch(mcp: McpServer, config: NotionConfig, withApi: WithApi): void {
  mcp.registerTool(
    'search',
    {
      title: 'Search Notion',
      description:
        'Searches the Notion pages and databases the user has shared with this connection, by ' +
        'title: words of the query are matched against page titles (database rows included) ' +
        'and database names, not against the text inside pages. Returns up to ' +
        `${config.searchMaxResults} results with id, title and url; pass an id to fetch to ` +
        'read the page.',
      inputSchema: {
        query: z.string().describe('Words to look for in page and database titles'),
      },
      outputSchema: searchOutput,
      annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: true },
    },
    async ({ query }, extra) =>
      withApi(extra.requestInfo?.headers, async (api) => ({
        results: await searchWorkspace(api, query.trim(), config.searchMaxResults),
      })),
  );
}

function registerFetch(mcp: McpServer, config: NotionConfig, withApi: WithApi): void {
  mcp.registerTool(
    'fetch',
    {
      title: 'Read a Notion page',
      description:
        'Reads one Notion page, with everything nested in it, as Markdown; its properties come ' +
        'back as metadata. A database id returns its rows as a Markdown table. Takes an id ' +
        'from search results or a Notion URL.',
      inputSchema: {
        id: z.string().describe('Page, database or data source id (from search), or a Notion URL'),
      },
      outputSchema: fetchOutput,
      annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: true },
    },
    async ({ id }, extra) =>
      withApi(extra.requestInfo?.headers, async (api) => ({
        ...(await fetchDocument(api, notionId(id), config)),
      })),
  );
}

/** The Notion token from `Authorization: Bearer` (RFC 6750 §2.1). */
function bearerToken(headers: IncomingHttpHeaders | undefined): string {
  const match = /^Bearer[ ]+([A-Za-z0-9\-._~+/]+=*)[ ]*$/i.exec(headers?.authorization ?? '');
  if (!match?.[1]) {
    throw new ToolError(
      NOT_CONNECTED,
      'Notion is not connected: no Notion access token came with this request. Connect Notion for this server, then retry.',
    );
  }
  return match[1];
}

function notionId(input: string): string {
  const id = extractNotionId(input);
  if (!id) {
    throw new ToolError(
      'invalid_id',
      'Expected a Notion id (32 hexadecimal digits, dashes optional) or a Notion page URL.',
    );
  }
  return id;
}
