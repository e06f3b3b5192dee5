import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BlockObjectResponse, RichTextItemResponse } from '@notionhq/client';
import type { BlockNode } from './block-tree.js';
import { blocksToMarkdown, codeLanguage } from './markdown.js';

let next = 0;
function node(type: string, data: unknown, children: BlockNode[] = []): BlockNode {
  const block = {
    object: 'block',
    id: `00000000-0000-4000-8000-${String(++next).padStart(12, '0')}`,
    type,
    [type]: data,
    has_children: children.length > 0,
  } as unknown as BlockObjectResponse;
  return { block, children };
}

const rt = (content: string): RichTextItemResponse[] => [
  {
    type: 'text',
    text: { content, link: null },
    annotations: {
      bold: false,
      italic: false,
      strikethrough: false,
      underline: false,
      code: false,
      color: 'default',
    },
    plain_text: content,
    href: null,
  },
];
const para = (s: string, children: BlockNode[] = []) =>
  node('paragraph', { rich_text: rt(s) }, children);
const num = (s: string, children: BlockNode[] = [], start?: number) =>
  node('numbered_list_item', { rich_text: rt(s), list_start_index: start }, children);
const bul = (s: string, children: BlockNode[] = []) =>
  node('bulleted_list_item', { rich_text: rt(s) }, children);

test('numbered lists count per run of siblings and restart after anything else', () => {
  const md = blocksToMarkdown([num('a'), num('b'), para('break'), num('c'), bul('x'), num('d')]);
  assert.equal(md, '1. a\n2. b\n\nbreak\n\n1. c\n\n- x\n\n1. d');
});

test('list_start_index sets the first number; later items count on from it', () => {
  assert.equal(blocksToMarkdown([num('a', [], 7), num('b')]), '7. a\n8. b');
});

test('nested items sit under the content of their parent marker, whatever its width', () => {
  const many = Array.from({ length: 10 }, (_, i) => num(`item ${i + 1}`));
  many.push(num('eleven', [bul('under')]));
  const md = blocksToMarkdown(many);
  assert.match(md, /^10\. item 10\n11\. eleven\n {4}- under$/m);
});

test('multi-line text in a list item stays inside the item', () => {
  assert.equal(blocksToMarkdown([bul('one\ntwo')]), '- one\n  two');
});

test('empty paragraphs (Notion spacing) leave no trace; their children still render', () => {
  assert.equal(blocksToMarkdown([para('a'), para(''), para('b')]), 'a\n\nb');
  assert.equal(blocksToMarkdown([para('', [para('child')])]), 'child');
});

test('a code fence is longer than any backtick run inside the code', () => {
  const md = blocksToMarkdown([
    node('code', { rich_text: rt('```\ninner\n```'), caption: [], language: 'markdown' }),
  ]);
  assert.equal(md, '````markdown\n```\ninner\n```\n````');
});

test('Notion language names map to common info strings', () => {
  assert.equal(codeLanguage('plain text'), '');
  assert.equal(codeLanguage('c++'), 'cpp');
  assert.equal(codeLanguage('c#'), 'csharp');
  assert.equal(codeLanguage('shell'), 'sh');
  assert.equal(codeLanguage('TypeScript'), 'typescript');
  assert.equal(codeLanguage('visual basic'), 'vb');
});

test('a toggle without children is still a closed details element', () => {
  assert.equal(
    blocksToMarkdown([node('toggle', { rich_text: rt('Empty') })]),
    '<details>\n<summary>Empty</summary>\n</details>',
  );
});

test('a callout without an emoji icon is a plain quote', () => {
  const md = blocksToMarkdown([
    node('callout', {
      rich_text: rt('Heads up\nsecond line'),
      icon: { type: 'external', external: { url: 'https://x.test/i.svg' } },
    }),
  ]);
  assert.equal(md, '> Heads up\n> second line');
});

test('a table cell keeps pipes and line breaks inside the cell', () => {
  const md = blocksToMarkdown([
    node('table', { table_width: 2, has_column_header: true, has_row_header: false }, [
      node('table_row', { cells: [rt('a|b'), rt('c\nd')] }),
      node('table_row', { cells: [rt('1')] }),
    ]),
  ]);
  assert.equal(md, '| a\\|b | c<br>d |\n| --- | --- |\n| 1 | |');
});

test('block types newer than the renderer show their children', () => {
  assert.equal(blocksToMarkdown([node('tab', {}, [para('inside a tab')])]), 'inside a tab');
  assert.equal(blocksToMarkdown([node('breadcrumb', {})]), '');
});

test('headings with line breaks stay on one line; empty headings disappear', () => {
  assert.equal(
    blocksToMarkdown([
      node('heading_2', { rich_text: rt('Two\nlines') }),
      node('heading_1', { rich_text: [] }),
    ]),
    '## Two lines',
  );
});

test('a file with no name is labelled by the last segment of its URL', () => {
  const md = blocksToMarkdown([
    node('file', {
      type: 'external',
      external: { url: 'https://files.test/docs/Q3%20plan.pdf?sig=1' },
      caption: [],
      name: '',
    }),
    node('video', { type: 'external', external: { url: 'https://v.test/' }, caption: rt('demo') }),
  ]);
  assert.equal(
    md,
    '[Q3 plan.pdf](https://files.test/docs/Q3%20plan.pdf?sig=1)\n\n[Video](https://v.test/) — demo',
  );
});
