import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../core/errors.js';
import { notionConfigFromEnv } from './config.js';

test('defaults need no settings at all', () => {
  assert.deepEqual(notionConfigFromEnv({}), {
    baseUrl: 'https://api.notion.com',
    fetchConcurrency: 4,
    maxDepth: 8,
    maxBlocks: 5000,
    maxDatabaseRows: 100,
    searchMaxResults: 50,
    maxRetries: 2,
    maxRetryWaitMs: 5000,
    timeoutMs: 30_000,
  });
});

test('a base URL keeps its path (corporate proxies) and loses a trailing slash', () => {
  const config = notionConfigFromEnv({ NOTION_API_BASE_URL: 'https://proxy.corp.test/notion/' });
  assert.equal(config.baseUrl, 'https://proxy.corp.test/notion');
});

test('bad values fail at start-up naming the variable', () => {
  const bad: Array<[string, string]> = [
    ['NOTION_API_BASE_URL', 'ftp://x.test'],
    ['NOTION_API_BASE_URL', 'https://x.test/?a=1'],
    ['NOTION_FETCH_CONCURRENCY', '0'],
    ['NOTION_FETCH_CONCURRENCY', '64'],
    ['NOTION_MAX_DEPTH', 'deep'],
    ['NOTION_SEARCH_MAX_RESULTS', '-1'],
  ];
  for (const [name, value] of bad) {
    assert.throws(
      () => notionConfigFromEnv({ [name]: value }),
      (err) => err instanceof ConfigError && err.source === name,
      `${name}=${value}`,
    );
  }
  assert.equal(notionConfigFromEnv({ NOTION_MAX_RETRIES: '0' }).maxRetries, 0);
});
