import { isFullDataSource, isFullPage } from '@notionhq/client';
import { NOTION_MAX_PAGE_SIZE, type NotionApi } from './api.js';
import { dataSourceTitle, pageTitle, UNTITLED } from './properties.js';
import { notionUrl } from './rich-text.js';

/** One result in the shape of the deep-research `search` contract. */
export interface SearchHit {
  readonly id: string;
  readonly title: string;
  readonly url: string;
}

/**
 * Notion's title search over the pages and data sources (databases) shared with the token,
 * read through the cursor until `maxResults` hits or the end. Trashed items are left out;
 * database rows are pages and come back with the text of their title property.
 */
export async function searchWorkspace(
  api: Pick<NotionApi, 'search'>,
  query: string,
  maxResults: number,
): Promise<SearchHit[]> {
  const hits: SearchHit[] = [];
  const seen = new Set<string>();
  let cursor: string | undefined;
  do {
    const pageSize = Math.min(NOTION_MAX_PAGE_SIZE, maxResults - hits.length);
    const response = await api.search({ query, pageSize, ...(cursor ? { cursor } : {}) });
    for (const item of response.results) {
      if (hits.length >= maxResults) break;
      const hit = toHit(item);
      if (!hit || seen.has(hit.id)) continue;
      seen.add(hit.id);
      hits.push(hit);
    }
    cursor = response.has_more && response.next_cursor ? response.next_cursor : undefined;
  } while (cursor && hits.length < maxResults);
  return hits;
}

function toHit(item: Awaited<ReturnType<NotionApi['search']>>['results'][number]) {
  if (isFullPage(item)) {
    if (item.in_trash) return undefined;
    return { id: item.id, title: pageTitle(item), url: item.url };
  }
  if (isFullDataSource(item)) {
    if (item.in_trash) return undefined;
    return { id: item.id, title: dataSourceTitle(item), url: item.url };
  }
  // A partial object: the token may see it exists but not read its properties.
  return { id: item.id, title: UNTITLED, url: notionUrl(item.id) };
}
