import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RichTextItemResponse } from '@notionhq/client';
import { escapeUrl, notionUrl, plainText, richTextToMarkdown } from './rich-text.js';

type Marks = { bold?: boolean; italic?: boolean; strike?: boolean; code?: boolean; link?: string };

function t(content: string, marks: Marks = {}): RichTextItemResponse {
  return {
    type: 'text',
    text: { content, link: marks.link ? { url: marks.link } : null },
    annotations: {
      bold: marks.bold ?? false,
      italic: marks.italic ?? false,
      strikethrough: marks.strike ?? false,
      underline: false,
      code: marks.code ?? false,
      color: 'default',
    },
    plain_text: content,
    href: marks.link ?? null,
  };
}

test('annotations become Markdown markers, combined from the inside out', () => {
  assert.equal(
    richTextToMarkdown([t('all', { bold: true, italic: true, strike: true })]),
    '***~~all~~***',
  );
  assert.equal(richTextToMarkdown([t('x', { code: true, bold: true })]), '**`x`**');
});

test('whitespace stays outside the markers so they still apply', () => {
  assert.equal(richTextToMarkdown([t('a'), t(' bold ', { bold: true }), t('b')]), 'a **bold** b');
  assert.equal(richTextToMarkdown([t('   ', { italic: true })]), '   ');
});

test('neighbours with the same formatting merge into one run', () => {
  assert.equal(
    richTextToMarkdown([t('one', { bold: true }), t('two', { bold: true })]),
    '**onetwo**',
  );
});

test('links wrap their formatted text; awkward URL characters are encoded', () => {
  assert.equal(
    richTextToMarkdown([t('spec', { link: 'https://example.com/a (b)', italic: true })]),
    '[*spec*](https://example.com/a%20%28b%29)',
  );
  assert.equal(escapeUrl('https://x.test/<y>'), 'https://x.test/%3Cy%3E');
});

test('code spans are never escaped and survive backticks inside', () => {
  assert.equal(richTextToMarkdown([t('a*b_c', { code: true })]), '`a*b_c`');
  assert.equal(richTextToMarkdown([t('x `y` z', { code: true })]), '``x `y` z``');
  assert.equal(richTextToMarkdown([t('`tick', { code: true })]), '`` `tick ``');
});

test('plain text is escaped only where it would turn into formatting', () => {
  assert.equal(
    richTextToMarkdown([t('2 * 3 [x] \\ `c` <div> a~~b snake_case _em_')]),
    '2 \\* 3 \\[x\\] \\\\ \\`c\\` \\<div> a\\~\\~b snake_case \\_em\\_',
  );
  assert.equal(richTextToMarkdown([t('a < b and 3 > 2')]), 'a < b and 3 > 2');
});

test('a line that would start a block stays text', () => {
  const cases: Array<[string, string]> = [
    ['# not a heading', '\\# not a heading'],
    ['### nor this', '\\### nor this'],
    ['- not a list', '\\- not a list'],
    ['+ nor this', '\\+ nor this'],
    ['1. not numbered', '1\\. not numbered'],
    ['> not a quote', '\\> not a quote'],
    ['---', '\\---'],
    ['#hashtag and -5 degrees', '#hashtag and -5 degrees'],
    ['first\n2) second', 'first\n2\\) second'],
  ];
  for (const [input, expected] of cases) assert.equal(richTextToMarkdown([t(input)]), expected);
  // Table cells have no block structure to protect.
  assert.equal(richTextToMarkdown([t('- x')], { lineStarts: false }), '- x');
});

test('mentions keep Notion text and link where Notion does not give a link', () => {
  const page: RichTextItemResponse = {
    type: 'mention',
    mention: { type: 'page', page: { id: '2b3c4d5e-6f70-4b2c-9d3e-4f5a6b7c8d9e' } },
    annotations: t('').annotations,
    plain_text: 'Onboarding',
    href: null,
  };
  assert.equal(
    richTextToMarkdown([page]),
    '[Onboarding](https://www.notion.so/2b3c4d5e6f704b2c9d3e4f5a6b7c8d9e)',
  );
  const equation: RichTextItemResponse = {
    type: 'equation',
    equation: { expression: 'a_1 * b' },
    annotations: t('').annotations,
    plain_text: 'a_1 * b',
    href: null,
  };
  assert.equal(richTextToMarkdown([t('so '), equation]), 'so $a_1 * b$');
  assert.equal(plainText([t('so '), equation]), 'so a_1 * b');
});

test('notionUrl drops the dashes of the id', () => {
  assert.equal(
    notionUrl('12345678-1234-1234-1234-123456789abc'),
    'https://www.notion.so/12345678123412341234123456789abc',
  );
});
