import {
  APIErrorCode,
  APIResponseError,
  isFullDatabase,
  isFullDataSource,
  isFullPage,
  type DataSourceObjectResponse,
  type GetDatabaseResponse,
  type GetPageResponse,
} from '@notionhq/client';
import type { NotionApi } from './api.js';
import { fetchBlockTree, type BlockTree } from './block-tree.js';
import type { NotionConfig } from './config.js';
import { dataSourceToMarkdown, queryRows } from './database.js';
import { blocksToMarkdown } from './markdown.js';
import { dataSourceTitle, pageTitle, propertiesMetadata, UNTITLED } from './properties.js';
import { notionUrl, plainText } from './rich-text.js';

/** One document in the shape of the deep-research `fetch` contract. */
export interface FetchedDocument {
  id: string;
  title: string;
  text: string;
  url: string;
  metadata: Record<string, string>;
}

type DocumentLimits = Pick<
  NotionConfig,
  'fetchConcurrency' | 'maxDepth' | 'maxBlocks' | 'maxDatabaseRows'
>;

/**
 * Reads a page, a data source or a database by id. Search returns page and data source ids
 * and pages link to databases, so the id is tried as each in turn; a kind Notion does not
 * recognise the id as answers 404 (or 400 for the wrong kind of object), and the first
 * error is the one reported when none matches.
 */
export async function fetchDocument(
  api: NotionApi,
  id: string,
  limits: DocumentLimits,
): Promise<FetchedDocument> {
  const page = await unlessWrongKind(() => api.retrievePage(id));
  if (page.found) return readPage(api, page.value, limits);
  const source = await unlessWrongKind(() => api.retrieveDataSource(id));
  if (source.found && isFullDataSource(source.value)) {
    return readDataSource(api, source.value, limits);
  }
  const database = await unlessWrongKind(() => api.retrieveDatabase(id));
  if (database.found) return readDatabase(api, database.value, limits);
  throw page.error;
}

async function unlessWrongKind<T>(
  call: () => Promise<T>,
): Promise<{ found: true; value: T } | { found: false; error: unknown }> {
  try {
    return { found: true, value: await call() };
  } catch (err) {
    if (!isWrongKind(err)) throw err;
    return { found: false, error: err };
  }
}

async function readPage(
  api: NotionApi,
  page: GetPageResponse,
  limits: DocumentLimits,
): Promise<FetchedDocument> {
  const tree = await fetchBlockTree(api, page.id, {
    concurrency: limits.fetchConcurrency,
    maxDepth: limits.maxDepth,
    maxBlocks: limits.maxBlocks,
  });
  const text = [blocksToMarkdown(tree.blocks), truncationNote(tree, limits)]
    .filter((p) => p !== '')
    .join('\n\n');
  if (!isFullPage(page)) {
    return { id: page.id, title: UNTITLED, text, url: notionUrl(page.id), metadata: {} };
  }
  return {
    id: page.id,
    title: pageTitle(page),
    text,
    url: page.url,
    metadata: propertiesMetadata(page),
  };
}

function truncationNote(tree: BlockTree, limits: DocumentLimits): string {
  if (tree.truncated === 'blocks') {
    return `*This page is longer than ${limits.maxBlocks} blocks; the rest was not read.*`;
  }
  if (tree.truncated === 'depth') {
    return `*Content nested deeper than ${limits.maxDepth} levels was not read.*`;
  }
  return '';
}

async function readDataSource(
  api: NotionApi,
  source: DataSourceObjectResponse,
  limits: DocumentLimits,
): Promise<FetchedDocument> {
  const rows = await queryRows(api, source.id, limits.maxDatabaseRows);
  return {
    id: source.id,
    title: dataSourceTitle(source),
    text: dataSourceToMarkdown(source, rows),
    url: source.url,
    metadata: { object: 'data_source', rows: String(rows.rows.length) },
  };
}

/**
 * A database is a container of data sources (Notion-Version 2025-09-03): each is read in
 * turn, under its own heading when there are several.
 */
async function readDatabase(
  api: NotionApi,
  database: GetDatabaseResponse,
  limits: DocumentLimits,
): Promise<FetchedDocument> {
  if (!isFullDatabase(database)) {
    return {
      id: database.id,
      title: UNTITLED,
      text: '',
      url: notionUrl(database.id),
      metadata: {},
    };
  }
  const sections: string[] = [];
  let rowCount = 0;
  for (const ref of database.data_sources) {
    const source = await api.retrieveDataSource(ref.id);
    if (!isFullDataSource(source)) continue;
    const rows = await queryRows(api, source.id, limits.maxDatabaseRows);
    rowCount += rows.rows.length;
    const body = dataSourceToMarkdown(source, rows);
    sections.push(
      database.data_sources.length > 1 ? `## ${dataSourceTitle(source)}\n\n${body}` : body,
    );
  }
  const description = plainText(database.description).trim();
  return {
    id: database.id,
    title: plainText(database.title).trim() || UNTITLED,
    text: [description, ...sections].filter((p) => p !== '').join('\n\n'),
    url: database.url,
    metadata: { object: 'database', rows: String(rowCount) },
  };
}

function isWrongKind(err: unknown): boolean {
  return (
    APIResponseError.isAPIResponseError(err) &&
    (err.code === APIErrorCode.ObjectNotFound || err.code === APIErrorCode.ValidationError)
  );
}
