import {
  isFullPage,
  type DataSourceObjectResponse,
  type PageObjectResponse,
} from '@notionhq/client';
import { NOTION_MAX_PAGE_SIZE, type NotionApi } from './api.js';
import { pageTitle, propertyToString, titlePropertyName } from './properties.js';
import { escapeInline, escapeUrl, richTextToMarkdown } from './rich-text.js';

export interface DataSourceRows {
  readonly rows: PageObjectResponse[];
  /** Notion has more rows than were read. */
  readonly more: boolean;
}

/** Reads up to `maxRows` rows of a data source through the query cursor. */
export async function queryRows(
  api: Pick<NotionApi, 'queryDataSource'>,
  dataSourceId: string,
  maxRows: number,
): Promise<DataSourceRows> {
  const rows: PageObjectResponse[] = [];
  let cursor: string | undefined;
  let more = false;
  do {
    const pageSize = Math.min(NOTION_MAX_PAGE_SIZE, maxRows - rows.length);
    const response = await api.queryDataSource(dataSourceId, {
      pageSize,
      ...(cursor ? { cursor } : {}),
    });
    // Wiki data sources can hold data sources as well as pages; only pages are rows.
    for (const item of response.results) if (isFullPage(item) && !item.in_trash) rows.push(item);
    cursor = response.has_more && response.next_cursor ? response.next_cursor : undefined;
    more = cursor !== undefined;
  } while (cursor && rows.length < maxRows);
  return { rows: rows.slice(0, maxRows), more: more || rows.length > maxRows };
}

/**
 * A data source as Markdown: its description, then one GFM table row per page. The title
 * column comes first and links to the row's page; the other columns follow the data source's
 * property order, each cell the property as text.
 */
export function dataSourceToMarkdown(
  source: Pick<DataSourceObjectResponse, 'description' | 'properties'>,
  { rows, more }: DataSourceRows,
): string {
  const titleName = titlePropertyName(source.properties);
  const others = Object.keys(source.properties).filter((name) => name !== titleName);
  const columns = titleName === undefined ? others : [titleName, ...others];
  const line = (cells: string[]) => `|${cells.map((c) => (c === '' ? ' ' : ` ${c} `)).join('|')}|`;
  const parts = [richTextToMarkdown(source.description)];
  if (rows.length === 0) {
    parts.push('*No rows.*');
  } else {
    const table = [
      line(columns.map(cell)),
      line(columns.map(() => '---')),
      ...rows.map((row) =>
        line(
          columns.map((name) => {
            if (name === titleName) return `[${cell(pageTitle(row))}](${escapeUrl(row.url)})`;
            const value = row.properties[name];
            return value ? cell(propertyToString(value)) : '';
          }),
        ),
      ),
    ];
    parts.push(table.join('\n'));
  }
  if (more) parts.push(`*Only the first ${rows.length} rows are shown.*`);
  return parts.filter((p) => p !== '').join('\n\n');
}

function cell(text: string): string {
  return escapeInline(text)
    .replace(/\|/g, '\\|')
    .replace(/\s*\n\s*/g, ' ');
}
