import {
  Client,
  LogLevel,
  type GetDatabaseResponse,
  type GetDataSourceResponse,
  type GetPageResponse,
  type ListBlockChildrenResponse,
  type QueryDataSourceResponse,
  type SearchResponse,
} from '@notionhq/client';
import type { Logger } from 'pino';
import type { NotionConfig } from './config.js';
import { withRetry, type RetryPolicy } from './retry.js';

/** Notion caps `page_size` at 100 on every paginated endpoint ("Pagination"). */
export const NOTION_MAX_PAGE_SIZE = 100;

/**
 * The Notion calls the tools make, bound to one caller's token for one tool call. Nothing in
 * here outlives the call, so no user's token or data is ever seen by another request.
 */
export interface NotionApi {
  search(args: { query: string; cursor?: string; pageSize: number }): Promise<SearchResponse>;
  listChildren(blockId: string, cursor?: string): Promise<ListBlockChildrenResponse>;
  retrievePage(pageId: string): Promise<GetPageResponse>;
  retrieveDataSource(dataSourceId: string): Promise<GetDataSourceResponse>;
  retrieveDatabase(databaseId: string): Promise<GetDatabaseResponse>;
  queryDataSource(
    dataSourceId: string,
    args: { cursor?: string; pageSize: number },
  ): Promise<QueryDataSourceResponse>;
}

/**
 * One official client for the whole process, created without a token: the token travels
 * with each call (`auth`), so the client itself holds nothing per user. Its own retries are
 * off; `withRetry` bounds them and lets tests skip the waiting.
 */
export function createNotionClient(config: NotionConfig, logger: Logger): Client {
  return new Client({
    baseUrl: config.baseUrl,
    timeoutMs: config.timeoutMs,
    retry: false,
    logLevel: LogLevel.WARN,
    logger: (level, message, extraInfo) =>
      logger.debug({ notion_level: level, ...extraInfo }, `notion client: ${message}`),
  });
}

export function bindNotionApi(client: Client, token: string, retry: RetryPolicy): NotionApi {
  const auth = token;
  const call = <T>(fn: () => Promise<T>) => withRetry(fn, retry);
  return {
    search: ({ query, cursor, pageSize }) =>
      call(() =>
        client.search({
          auth,
          query,
          page_size: pageSize,
          ...(cursor ? { start_cursor: cursor } : {}),
        }),
      ),
    listChildren: (blockId, cursor) =>
      call(() =>
        client.blocks.children.list({
          auth,
          block_id: blockId,
          page_size: NOTION_MAX_PAGE_SIZE,
          ...(cursor ? { start_cursor: cursor } : {}),
        }),
      ),
    retrievePage: (pageId) => call(() => client.pages.retrieve({ auth, page_id: pageId })),
    retrieveDataSource: (dataSourceId) =>
      call(() => client.dataSources.retrieve({ auth, data_source_id: dataSourceId })),
    retrieveDatabase: (databaseId) =>
      call(() => client.databases.retrieve({ auth, database_id: databaseId })),
    queryDataSource: (dataSourceId, { cursor, pageSize }) =>
      call(() =>
        client.dataSources.query({
          auth,
          data_source_id: dataSourceId,
          page_size: pageSize,
          ...(cursor ? { start_cursor: cursor } : {}),
        }),
      ),
  };
}
