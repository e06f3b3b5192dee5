/**
 * Checks a query's text before it reaches `prepare()`.
 *
 * The engine enforces read-only (read-only open, `query_only`, `stmt.readonly && stmt.reader`),
 * but many PRAGMAs act while being prepared (`query_only=0`, `locking_mode`, `mmap_size`, …)
 * and better-sqlite3 has no authorizer hook, so PRAGMA forms must be refused from the text.
 * The check walks SQLite's tokens so the word inside a string literal, a comment or a quoted
 * column name is not mistaken for the statement.
 */
export type GuardResult = { ok: true } | { ok: false; reason: string };

/** Refuses what must never be prepared; `maxLength` bounds parser work. */
export function checkQueryText(sql: string, maxLength: number): GuardResult {
  if (sql.includes('\0')) {
    // SQLite stops reading at NUL, so text after it would silently vanish.
    return { ok: false, reason: 'the query contains a NUL character' };
  }
  if (sql.length > maxLength) {
    return { ok: false, reason: `the query is longer than ${maxLength} characters` };
  }
  for (const token of tokenize(sql)) {
    if (token.kind === 'word' && !token.quoted && token.value.toLowerCase() === 'pragma') {
      return { ok: false, reason: 'PRAGMA statements are not allowed' };
    }
    // Eponymous pragma tables (`pragma_table_info(...)`, `"pragma_database_list"`) run the
    // pragma when read, and SQLite also takes a bare string in a FROM clause as a table name.
    const pragmaTable =
      (token.kind === 'word' && /^pragma_/i.test(token.value)) ||
      (token.kind === 'string' && /^pragma_\w*$/i.test(token.value));
    if (pragmaTable) return { ok: false, reason: 'pragma table functions are not allowed' };
  }
  return { ok: true };
}

export interface Token {
  /** `word`: a bare or quoted identifier or keyword (value unquoted); `string`: a '…' literal. */
  readonly kind: 'word' | 'string' | 'other';
  readonly value: string;
  /** A word written in "…", `…` or […]: always an identifier, never a keyword. */
  readonly quoted?: boolean;
}

const WORD_START = /[A-Za-z_\u0080-\uffff]/;
const WORD_CHAR = /[A-Za-z0-9_$\u0080-\uffff]/;

/** SQLite's lexical rules (tokenize.c), enough to tell words, strings and the rest apart. */
export function* tokenize(sql: string): Generator<Token> {
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i]!;
    if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      i = end === -1 ? n : end + 1;
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end === -1 ? n : end + 2;
    } else if (c === "'") {
      const [value, next] = quoted(sql, i, "'");
      yield { kind: 'string', value };
      i = next;
    } else if (c === '"' || c === '`') {
      const [value, next] = quoted(sql, i, c);
      yield { kind: 'word', value, quoted: true };
      i = next;
    } else if (c === '[') {
      const end = sql.indexOf(']', i + 1);
      yield { kind: 'word', value: sql.slice(i + 1, end === -1 ? n : end), quoted: true };
      i = end === -1 ? n : end + 1;
    } else if ((c === 'x' || c === 'X') && sql[i + 1] === "'") {
      const [, next] = quoted(sql, i + 1, "'");
      yield { kind: 'other', value: sql.slice(i, next) };
      i = next;
    } else if (WORD_START.test(c)) {
      let j = i + 1;
      while (j < n && WORD_CHAR.test(sql[j]!)) j++;
      yield { kind: 'word', value: sql.slice(i, j) };
      i = j;
    } else if (/\s/.test(c)) {
      i++;
    } else {
      yield { kind: 'other', value: c };
      i++;
    }
  }
}

/** Reads a quoted token starting at `start`; a doubled quote stands for one. */
function quoted(sql: string, start: number, quote: string): [string, number] {
  let value = '';
  let i = start + 1;
  while (i < sql.length) {
    const end = sql.indexOf(quote, i);
    if (end === -1) return [value + sql.slice(i), sql.length];
    value += sql.slice(i, end);
    if (sql[end + 1] === quote) {
      value += quote;
      i = end + 2;
    } else {
      return [value, end + 1];
    }
  }
  return [value, sql.length];
}
