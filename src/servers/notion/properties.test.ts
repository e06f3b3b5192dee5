import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PageObjectResponse } from '@notionhq/client';
import { pageTitle, propertiesMetadata, propertyToString } from './properties.js';

type Value = PageObjectResponse['properties'][string];
const v = (value: unknown) => ({ id: 'x', ...(value as object) }) as Value;
const text = (s: string) => ({
  type: 'text',
  text: { content: s, link: null },
  annotations: {
    bold: true,
    italic: false,
    strikethrough: false,
    underline: false,
    code: false,
    color: 'default',
  },
  plain_text: s,
  href: null,
});

test('every property type becomes one line of text', () => {
  const date = { start: '2026-02-16', end: '2026-02-18', time_zone: null };
  const cases: Array<[unknown, string]> = [
    [{ type: 'rich_text', rich_text: [text('Hello '), text('world')] }, 'Hello world'],
    [{ type: 'number', number: 0 }, '0'],
    [{ type: 'number', number: null }, ''],
    [{ type: 'select', select: { id: '1', name: 'High', color: 'red' } }, 'High'],
    [{ type: 'select', select: null }, ''],
    [{ type: 'status', status: { id: '1', name: 'Done', color: 'green' } }, 'Done'],
    [{ type: 'multi_select', multi_select: [{ name: 'a' }, { name: 'b' }] }, 'a, b'],
    [{ type: 'date', date: { start: '2026-01-01', end: null, time_zone: null } }, '2026-01-01'],
    [{ type: 'date', date }, '2026-02-16 → 2026-02-18'],
    [
      {
        type: 'people',
        people: [
          { object: 'user', id: 'u1', name: 'Ada' },
          { object: 'user', id: 'u2' },
        ],
      },
      'Ada, u2',
    ],
    [{ type: 'relation', relation: [{ id: 'p1' }, { id: 'p2' }] }, 'p1, p2'],
    [{ type: 'checkbox', checkbox: false }, 'false'],
    [{ type: 'url', url: 'https://x.test' }, 'https://x.test'],
    [{ type: 'email', email: 'a@x.test' }, 'a@x.test'],
    [{ type: 'phone_number', phone_number: '+44 20' }, '+44 20'],
    [
      {
        type: 'files',
        files: [{ name: 'a.pdf', type: 'file', file: { url: 'u', expiry_time: '' } }],
      },
      'a.pdf',
    ],
    [
      { type: 'created_time', created_time: '2026-01-05T09:00:00.000Z' },
      '2026-01-05T09:00:00.000Z',
    ],
    [{ type: 'last_edited_by', last_edited_by: { object: 'user', id: 'u9' } }, 'u9'],
    [{ type: 'formula', formula: { type: 'number', number: 4.5 } }, '4.5'],
    [{ type: 'formula', formula: { type: 'boolean', boolean: true } }, 'true'],
    [{ type: 'formula', formula: { type: 'string', string: 'ok' } }, 'ok'],
    [{ type: 'rollup', rollup: { type: 'number', number: 12, function: 'sum' } }, '12'],
    [
      {
        type: 'rollup',
        rollup: {
          type: 'array',
          function: 'show_original',
          array: [
            { type: 'title', title: [text('Alpha')] },
            { type: 'number', number: 2 },
          ],
        },
      },
      'Alpha, 2',
    ],
    [{ type: 'unique_id', unique_id: { prefix: 'TASK', number: 12 } }, 'TASK-12'],
    [{ type: 'unique_id', unique_id: { prefix: null, number: 3 } }, '3'],
    [
      {
        type: 'verification',
        verification: { state: 'unverified', date: null, verified_by: null },
      },
      'unverified',
    ],
    [{ type: 'place', place: { lat: 51.5, lon: -0.12, name: 'London' } }, 'London'],
    [{ type: 'button', button: {} }, ''],
  ];
  for (const [value, expected] of cases) {
    assert.equal(propertyToString(v(value)), expected, JSON.stringify(value));
  }
});

test('the title comes from whichever property has type title', () => {
  const page = {
    properties: {
      Status: v({ type: 'select', select: null }),
      Task: v({ type: 'title', title: [text('Ship it')] }),
    },
  };
  assert.equal(pageTitle(page), 'Ship it');
  assert.equal(pageTitle({ properties: { Name: v({ type: 'title', title: [] }) } }), 'Untitled');
});

test('metadata leaves out the title and empty values but keeps false checkboxes', () => {
  const page = {
    properties: {
      Name: v({ type: 'title', title: [text('Row')] }),
      Owner: v({ type: 'people', people: [] }),
      Done: v({ type: 'checkbox', checkbox: false }),
      Due: v({ type: 'date', date: null }),
      Points: v({ type: 'number', number: 3 }),
    },
  };
  assert.deepEqual(propertiesMetadata(page), { Done: 'false', Points: '3' });
});
