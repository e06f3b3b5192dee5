import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkQueryText, tokenize } from './guard.js';

const refused = (sql: string) => {
  const result = checkQueryText(sql, 100_000);
  assert.equal(result.ok, false, `expected ${JSON.stringify(sql)} to be refused`);
};
const allowed = (sql: string) => {
  const result = checkQueryText(sql, 100_000);
  assert.deepEqual(result, { ok: true }, `expected ${JSON.stringify(sql)} to pass`);
};

test('PRAGMA statements are refused in every spelling', () => {
  for (const sql of [
    'PRAGMA query_only = 0',
    'pragma locking_mode=EXCLUSIVE',
    '  PrAgMa journal_mode=WAL',
    'EXPLAIN PRAGMA user_version = 3',
    '/* hi */ PRAGMA mmap_size=1',
    '-- comment\nPRAGMA cache_size=1',
    'SELECT 1;PRAGMA temp_store=1',
  ]) {
    refused(sql);
  }
});

test('pragma table functions are refused bare, quoted or as a string table name', () => {
  for (const sql of [
    'SELECT * FROM pragma_database_list',
    'SELECT * FROM main.pragma_table_list',
    'SELECT * FROM "pragma_database_list"',
    'SELECT * FROM [pragma_database_list]',
    'SELECT * FROM `PRAGMA_database_list`',
    "SELECT * FROM 'pragma_database_list'",
    "SELECT * FROM pragma_table_info('t')",
    'SELECT name FROM PRAGMA_MODULE_LIST()',
  ]) {
    refused(sql);
  }
});

test('the word inside strings, comments and quoted names is not a statement', () => {
  for (const sql of [
    "SELECT 'PRAGMA query_only=0'",
    "SELECT * FROM notes WHERE body LIKE '%pragma%'",
    'SELECT "pragma" FROM t',
    'SELECT [pragma] FROM t',
    'SELECT * FROM "pragma"',
    'SELECT 1 -- PRAGMA query_only=0',
    'SELECT 1 /* PRAGMA query_only=0 */',
    'SELECT pragmatic, my_pragma_col FROM t',
    "SELECT 'it''s PRAGMA time'",
    "SELECT 'pragma_x is interesting'",
  ]) {
    allowed(sql);
  }
});

test('NUL bytes and oversize text are refused before parsing', () => {
  refused('SELECT 1;\0DROP TABLE t');
  refused("SELECT '\0'");
  assert.equal(checkQueryText('SELECT 1', 8).ok, true);
  assert.equal(checkQueryText('SELECT 12', 8).ok, false);
});

test('tokenize follows SQLite quoting: doubled quotes and unterminated tokens', () => {
  assert.deepEqual(
    [...tokenize(`SELECT 'a''b', "c""d", [e f], x'00' FROM t`)].map((t) => [t.kind, t.value]),
    [
      ['word', 'SELECT'],
      ['string', "a'b"],
      ['other', ','],
      ['word', 'c"d'],
      ['other', ','],
      ['word', 'e f'],
      ['other', ','],
      ['other', "x'00'"],
      ['word', 'FROM'],
      ['word', 't'],
    ],
  );
  assert.deepEqual(
    [...tokenize("SELECT 'open")].map((t) => t.value),
    ['SELECT', 'open'],
  );
  // An unterminated comment hides the rest, exactly as SQLite reads it.
  assert.deepEqual(
    [...tokenize('SELECT 1 /* PRAGMA')].map((t) => t.value),
    ['SELECT', '1'],
  );
});
