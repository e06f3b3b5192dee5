import type { RichTextItemResponse } from '@notionhq/client';

/** Notion's own address for an object, which opens it for any user allowed to see it. */
export function notionUrl(id: string): string {
  return `https://www.notion.so/${id.replace(/-/g, '')}`;
}

/** The text with every annotation dropped (titles, table cells of properties, alt text). */
export function plainText(items: readonly RichTextItemResponse[] | undefined): string {
  return (items ?? []).map((item) => item.plain_text).join('');
}

interface Segment {
  text: string;
  href: string | null;
  bold: boolean;
  italic: boolean;
  strike: boolean;
  code: boolean;
  /** Already Markdown (an inline equation): no escaping, no annotations. */
  raw: boolean;
}

/**
 * Rich text as inline Markdown: bold `**`, italic `*`, strikethrough `~~`, code spans,
 * links, inline equations `$…$`. Underline and colours have no Markdown form and are
 * dropped. Mentions keep Notion's own text (`@Name`, the page title, the date) and link
 * to what they mention.
 */
export function richTextToMarkdown(
  items: readonly RichTextItemResponse[] | undefined,
  options: { lineStarts?: boolean } = {},
): string {
  const segments = mergeSegments((items ?? []).map(toSegment));
  const markdown = segments.map(renderSegment).join('');
  // Inside a table cell a leading `#` or `-` means nothing, so it needs no escape.
  return options.lineStarts === false ? markdown : escapeLineStarts(markdown);
}

function toSegment(item: RichTextItemResponse): Segment {
  const a = item.annotations;
  const base = {
    href: linkOf(item),
    bold: a.bold,
    italic: a.italic,
    strike: a.strikethrough,
    code: a.code,
  };
  if (item.type === 'equation') {
    return { ...base, text: `$${item.equation.expression}$`, raw: true };
  }
  return { ...base, text: item.plain_text, raw: false };
}

function linkOf(item: RichTextItemResponse): string | null {
  if (item.href) return item.href;
  if (item.type === 'mention') {
    const m = item.mention;
    if (m.type === 'page') return notionUrl(m.page.id);
    if (m.type === 'database') return notionUrl(m.database.id);
  }
  return null;
}

/** Neighbours with the same formatting become one, so `**a****b**` never appears. */
function mergeSegments(segments: Segment[]): Segment[] {
  const out: Segment[] = [];
  for (const s of segments) {
    const last = out[out.length - 1];
    if (
      last &&
      !last.raw &&
      !s.raw &&
      last.href === s.href &&
      last.bold === s.bold &&
      last.italic === s.italic &&
      last.strike === s.strike &&
      last.code === s.code
    ) {
      last.text += s.text;
    } else {
      out.push({ ...s });
    }
  }
  return out;
}

function renderSegment(s: Segment): string {
  if (s.text === '') return '';
  let body: string;
  if (s.raw) {
    body = s.text;
  } else {
    // Markers must hug the text (CommonMark flanking rules): whitespace goes outside them.
    const [, lead = '', core = '', trail = ''] = /^(\s*)([\s\S]*?)(\s*)$/.exec(s.text) ?? [];
    if (core === '') return s.text;
    let inner = s.code ? codeSpan(core) : escapeInline(core);
    if (s.strike) inner = `~~${inner}~~`;
    if (s.italic) inner = `*${inner}*`;
    if (s.bold) inner = `**${inner}**`;
    body = `${lead}${inner}${trail}`;
  }
  return s.href ? `[${body}](${escapeUrl(s.href)})` : body;
}

function codeSpan(text: string): string {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longest + 1);
  const pad = text.startsWith('`') || text.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${text}${pad}${fence}`;
}

/**
 * Escapes what would otherwise turn plain text into formatting. `_` inside a word
 * (`snake_case`) cannot start emphasis (CommonMark §6.2), so it is left alone.
 */
export function escapeInline(text: string): string {
  return text
    .replace(/[\\`*[\]]/g, '\\$&')
    .replace(/~~/g, '\\~\\~')
    .replace(/<(?=[A-Za-z/!?])/g, '\\<')
    .replace(/_/g, (match, offset: number, all: string) =>
      isWordChar(all[offset - 1]) && isWordChar(all[offset + 1]) ? match : '\\_',
    );
}

function isWordChar(ch: string | undefined): boolean {
  return ch !== undefined && /[\p{L}\p{N}]/u.test(ch);
}

/** A line of text that starts like a heading, quote, list item or rule stays text. */
function escapeLineStarts(markdown: string): string {
  return markdown
    .replace(/^([ \t]*)(#{1,6}|[+]|-+|=+)(?=[ \t]|$)/gm, '$1\\$2')
    .replace(/^([ \t]*)(\d{1,9})([.)])(?=[ \t]|$)/gm, '$1$2\\$3')
    .replace(/^([ \t]*)>/gm, '$1\\>');
}

/** Link destinations may not hold spaces or unbalanced parentheses (CommonMark §6.3). */
export function escapeUrl(url: string): string {
  return url.replace(
    /[\s()<>]/g,
    (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`,
  );
}
