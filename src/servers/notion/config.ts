import { intFromEnv, urlFromEnv } from '../../core/env.js';
import { ConfigError } from '../../core/errors.js';

type Env = Readonly<Record<string, string | undefined>>;

export interface NotionConfig {
  /** API origin without `/v1`, e.g. `https://api.notion.com`; the client appends `/v1/`. */
  readonly baseUrl: string;
  /** Notion calls in flight at once for one `fetch`. */
  readonly fetchConcurrency: number;
  /** Nesting levels of blocks fetched below the page (1 = the page's own blocks only). */
  readonly maxDepth: number;
  /** Blocks fetched for one page before the rest is left out. */
  readonly maxBlocks: number;
  /** Rows listed when fetching a database. */
  readonly maxDatabaseRows: number;
  /** Results `search` returns at most, across Notion's result pages. */
  readonly searchMaxResults: number;
  /** Retries of one call after 429 / 529 before the error reaches the caller. */
  readonly maxRetries: number;
  /** Longest single wait for a retry; a longer Retry-After is reported instead of waited out. */
  readonly maxRetryWaitMs: number;
  /** Per-call timeout. */
  readonly timeoutMs: number;
}

export const NOTION_DEFAULT_BASE_URL = 'https://api.notion.com';

export function notionConfigFromEnv(env: Env): NotionConfig {
  const base = urlFromEnv(env, 'NOTION_API_BASE_URL');
  if (base && (base.search !== '' || base.hash !== '')) {
    throw new ConfigError('NOTION_API_BASE_URL', 'expected a URL without query or fragment');
  }
  return {
    baseUrl: base ? base.href.replace(/\/+$/, '') : NOTION_DEFAULT_BASE_URL,
    // Notion allows bursts but averages ~3 requests/s per connection: keep the default modest.
    fetchConcurrency: bounded(env, 'NOTION_FETCH_CONCURRENCY', 4, 1, 32),
    maxDepth: bounded(env, 'NOTION_MAX_DEPTH', 8, 1, 50),
    maxBlocks: bounded(env, 'NOTION_MAX_BLOCKS', 5000, 1, 100_000),
    maxDatabaseRows: bounded(env, 'NOTION_DATABASE_MAX_ROWS', 100, 1, 10_000),
    searchMaxResults: bounded(env, 'NOTION_SEARCH_MAX_RESULTS', 50, 1, 1000),
    maxRetries: bounded(env, 'NOTION_MAX_RETRIES', 2, 0, 10),
    maxRetryWaitMs: bounded(env, 'NOTION_MAX_RETRY_WAIT_SECONDS', 5, 0, 120) * 1000,
    timeoutMs: bounded(env, 'NOTION_TIMEOUT_SECONDS', 30, 1, 600) * 1000,
  };
}

function bounded(env: Env, name: string, fallback: number, min: number, max: number): number {
  const value = intFromEnv(env, name, fallback, min);
  if (value > max) throw new ConfigError(name, `expected at most ${max}, got ${value}`);
  return value;
}
