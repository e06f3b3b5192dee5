import type { BlockObjectResponse, RichTextItemResponse } from '@notionhq/client';
import type { BlockNode } from './block-tree.js';
import { escapeInline, escapeUrl, notionUrl, plainText, richTextToMarkdown } from './rich-text.js';
import { UNTITLED } from './properties.js';

type Block<T extends BlockObjectResponse['type']> = Extract<BlockObjectResponse, { type: T }>;
type ListKind = 'bullet' | 'ordered';

/**
 * A tree of Notion blocks as Markdown (CommonMark with GitHub's tables, task lists and
 * strikethrough). Blocks are separated by a blank line; items of one list by a line break.
 * The mapping of every block type is listed in docs/notion.md.
 */
export function blocksToMarkdown(nodes: readonly BlockNode[]): string {
  const parts: string[] = [];
  let previousKind: ListKind | undefined;
  let number = 0;
  for (const node of nodes) {
    const kind = listKind(node.block);
    if (kind === 'ordered') {
      const b = node.block as Block<'numbered_list_item'>;
      const start = b.numbered_list_item.list_start_index;
      number = start ?? (previousKind === 'ordered' ? number + 1 : 1);
    }
    const text = renderBlock(node, number);
    if (text === '') {
      previousKind = undefined;
      continue;
    }
    const sameList = kind !== undefined && kind === previousKind;
    parts.push(parts.length === 0 ? text : `${sameList ? '\n' : '\n\n'}${text}`);
    previousKind = kind;
  }
  return parts.join('');
}

function listKind(block: BlockObjectResponse): ListKind | undefined {
  if (block.type === 'bulleted_list_item' || block.type === 'to_do') return 'bullet';
  if (block.type === 'numbered_list_item') return 'ordered';
  return undefined;
}

function renderBlock(node: BlockNode, number: number): string {
  // Column lists, columns, synced blocks, tabs, navigation aids, unsupported blocks and types
  // newer than this code: their content is their children.
  return renderTextBlock(node, number) ?? renderLeafBlock(node) ?? blocksToMarkdown(node.children);
}

/** Blocks of rich text, with their children under them; undefined for other types. */
function renderTextBlock(node: BlockNode, number: number): string | undefined {
  const { block } = node;
  const children = () => blocksToMarkdown(node.children);
  switch (block.type) {
    case 'paragraph':
      return joinBlocks(richTextToMarkdown(block.paragraph.rich_text), children());
    case 'heading_1':
      return heading(1, block.heading_1.rich_text, children());
    case 'heading_2':
      return heading(2, block.heading_2.rich_text, children());
    case 'heading_3':
      return heading(3, block.heading_3.rich_text, children());
    case 'heading_4':
      return heading(4, block.heading_4.rich_text, children());
    case 'bulleted_list_item':
      return listItem('- ', block.bulleted_list_item.rich_text, node.children);
    case 'numbered_list_item':
      return listItem(`${number}. `, block.numbered_list_item.rich_text, node.children);
    case 'to_do':
      // GFM task list: `[ ]` is part of the item's content, so nested blocks align under it.
      return listItem(
        block.to_do.checked ? '- [x] ' : '- [ ] ',
        block.to_do.rich_text,
        node.children,
        2,
      );
    case 'toggle':
      return toggle(block.toggle.rich_text, children());
    case 'quote':
      return quote(joinBlocks(richTextToMarkdown(block.quote.rich_text), children()));
    case 'callout':
      return callout(block, children());
    case 'template':
      return joinBlocks(richTextToMarkdown(block.template.rich_text), children());
    case 'meeting_notes':
      return meetingNotes(block.meeting_notes.title, children());
    case 'transcription':
      return meetingNotes(block.transcription.title, children());
    default:
      return undefined;
  }
}

/** Blocks that stand for one thing (code, a link, a file, a table); undefined for other types. */
function renderLeafBlock(node: BlockNode): string | undefined {
  const { block } = node;
  switch (block.type) {
    case 'code':
      return code(block);
    case 'equation':
      return `$$\n${block.equation.expression}\n$$`;
    case 'divider':
      return '---';
    case 'table':
      return table(block, node.children);
    case 'child_page':
      return `📄 ${link(block.child_page.title || UNTITLED, notionUrl(block.id))}`;
    case 'child_database':
      return `🗃️ ${link(block.child_database.title || UNTITLED, notionUrl(block.id))}`;
    case 'link_to_page':
      return linkToPage(block);
    case 'bookmark':
      return withCaption(`<${escapeUrl(block.bookmark.url)}>`, block.bookmark.caption);
    case 'embed':
      return withCaption(`<${escapeUrl(block.embed.url)}>`, block.embed.caption);
    case 'link_preview':
      return `<${escapeUrl(block.link_preview.url)}>`;
    case 'image':
      return image(block);
    case 'video':
      return media(block.video, 'Video');
    case 'audio':
      return media(block.audio, 'Audio');
    case 'pdf':
      return media(block.pdf, 'PDF');
    case 'file':
      return media(block.file, 'File', block.file.name);
    default:
      return undefined;
  }
}

/** Parts separated by a blank line, empty ones left out. */
function joinBlocks(...parts: string[]): string {
  return parts.filter((p) => p !== '').join('\n\n');
}

function heading(level: number, text: RichTextItemResponse[], children: string): string {
  const title = richTextToMarkdown(text)
    .replace(/\s*\n\s*/g, ' ')
    .trim();
  return joinBlocks(title === '' ? '' : `${'#'.repeat(level)} ${title}`, children);
}

/** CommonMark §5.2: an item's continuation lines and nested blocks sit under its content. */
function listItem(
  marker: string,
  text: RichTextItemResponse[],
  children: BlockNode[],
  width = marker.length,
): string {
  const pad = ' '.repeat(width);
  let out = marker + indent(richTextToMarkdown(text), pad, false);
  if (children.length > 0) {
    const nested = blocksToMarkdown(children);
    if (nested !== '') {
      const tight = listKind(children[0]!.block) !== undefined;
      out += (tight ? '\n' : '\n\n') + indent(nested, pad, true);
    }
  }
  return out.trimEnd();
}

function toggle(text: RichTextItemResponse[], children: string): string {
  const summary = `<summary>${richTextToMarkdown(text).replace(/\s*\n\s*/g, ' ')}</summary>`;
  return children === ''
    ? `<details>\n${summary}\n</details>`
    : `<details>\n${summary}\n\n${children}\n\n</details>`;
}

function quote(body: string): string {
  return body
    .split('\n')
    .map((line) => (line === '' ? '>' : `> ${line}`))
    .join('\n');
}

function callout(block: Block<'callout'>, children: string): string {
  const icon = block.callout.icon?.type === 'emoji' ? `${block.callout.icon.emoji} ` : '';
  const text = richTextToMarkdown(block.callout.rich_text);
  return quote(joinBlocks(`${icon}${text}`.trim(), children));
}

function code(block: Block<'code'>): string {
  const body = plainText(block.code.rich_text);
  const longest = Math.max(2, ...(body.match(/`{3,}/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longest + 1);
  const fenced = `${fence}${codeLanguage(block.code.language)}\n${body}\n${fence}`;
  const caption = richTextToMarkdown(block.code.caption);
  return joinBlocks(fenced, caption);
}

/** Notion's language names that are not the usual Markdown info strings. */
const LANGUAGE_ALIASES: Readonly<Record<string, string>> = {
  'plain text': '',
  'c++': 'cpp',
  'c#': 'csharp',
  'f#': 'fsharp',
  'objective-c': 'objectivec',
  'visual basic': 'vb',
  'vb.net': 'vbnet',
  'java/c/c++/c#': '',
  shell: 'sh',
};

export function codeLanguage(language: string): string {
  const lower = language.toLowerCase();
  return LANGUAGE_ALIASES[lower] ?? lower.replace(/\s+/g, '-');
}

function table(block: Block<'table'>, rows: BlockNode[]): string {
  const width = block.table.table_width;
  const cells = rows
    .filter((r): r is BlockNode & { block: Block<'table_row'> } => r.block.type === 'table_row')
    .map((r) =>
      Array.from({ length: width }, (_, i) => tableCell(r.block.table_row.cells[i] ?? [])),
    );
  if (block.table.has_row_header) {
    for (const row of cells) if (row[0]) row[0] = `**${row[0]}**`;
  }
  // GFM tables need a header row; a table without one gets an empty header.
  const header = block.table.has_column_header && cells.length > 0 ? cells.shift()! : [];
  const line = (row: string[]) =>
    `|${Array.from({ length: width }, (_, i) => ` ${row[i] ?? ''} `.replace(/^ {2}$/, ' ')).join('|')}|`;
  return [line(header), `|${' --- |'.repeat(width)}`, ...cells.map(line)].join('\n');
}

function tableCell(text: RichTextItemResponse[]): string {
  return richTextToMarkdown(text, { lineStarts: false })
    .replace(/\|/g, '\\|')
    .replace(/\n/g, '<br>');
}

function linkToPage(block: Block<'link_to_page'>): string {
  const target = block.link_to_page;
  if (target.type === 'page_id') return `↗ ${link('Linked page', notionUrl(target.page_id))}`;
  if (target.type === 'database_id') {
    return `↗ ${link('Linked database', notionUrl(target.database_id))}`;
  }
  return '';
}

function image(block: Block<'image'>): string {
  const alt = plainText(block.image.caption).replace(/\s*\n\s*/g, ' ');
  return `![${escapeInline(alt)}](${escapeUrl(fileUrl(block.image))})`;
}

type FileLike =
  { type: 'file'; file: { url: string } } | { type: 'external'; external: { url: string } };

function fileUrl(media: FileLike): string {
  return media.type === 'file' ? media.file.url : media.external.url;
}

function media(
  value: FileLike & { caption: RichTextItemResponse[] },
  kind: string,
  name?: string,
): string {
  const url = fileUrl(value);
  const label = name?.trim() || fileNameOf(url) || kind;
  return withCaption(link(label, url), value.caption);
}

/** The last path segment of a URL, decoded (`/files/Q3%20report.pdf` → `Q3 report.pdf`). */
function fileNameOf(url: string): string | undefined {
  try {
    const segment = new URL(url).pathname.split('/').filter(Boolean).pop();
    return segment ? decodeURIComponent(segment) : undefined;
  } catch {
    return undefined;
  }
}

function withCaption(markdown: string, caption: RichTextItemResponse[]): string {
  const text = richTextToMarkdown(caption)
    .replace(/\s*\n\s*/g, ' ')
    .trim();
  return text === '' ? markdown : `${markdown} — ${text}`;
}

function meetingNotes(title: RichTextItemResponse[] | undefined, children: string): string {
  const name = richTextToMarkdown(title).trim() || 'Meeting notes';
  return joinBlocks(`**${name}**`, children);
}

function link(text: string, url: string): string {
  return `[${escapeInline(text)}](${escapeUrl(url)})`;
}

/** Prefixes lines with `pad`; the first line too when `first`. Blank lines stay blank. */
function indent(text: string, pad: string, first: boolean): string {
  return text
    .split('\n')
    .map((line, i) => (line === '' || (i === 0 && !first) ? line : pad + line))
    .join('\n');
}
