/**
 * A disposable process that runs SQLite jobs one at a time. better-sqlite3 cannot be
 * interrupted, so the parent enforces deadlines by killing this process; its address space is
 * capped by the parent so memory bombs end here too. It opens the database read-only.
 */
import Database from 'better-sqlite3';
import { dirname } from 'node:path';
import type {
  ChildMessage,
  ColumnInfo,
  Job,
  JobFailure,
  JobResult,
  ParentMessage,
  QueryResult,
  ResultLimits,
  TableInfo,
} from './protocol.js';

const file = process.env.PORTCULLIS_SQLITE_FILE;

function send(message: ChildMessage): void {
  process.send?.(message);
}

class Refusal extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function open(path: string): Database.Database {
  const db = new Database(path, { readonly: true, fileMustExist: true, timeout: 1000 });
  // Defence in depth under the read-only open (REFERENCE §7): each measure misses something.
  db.pragma('query_only = ON');
  // Views and triggers in a hostile schema may not call functions with side effects.
  db.pragma('trusted_schema = OFF');
  // Sorts and temp b-trees stay in memory, which the parent's address-space cap bounds,
  // instead of temp files that leave the directory changed.
  db.pragma('temp_store = MEMORY');
  db.defaultSafeIntegers(true);
  return db;
}

function listTables(db: Database.Database): { tables: TableInfo[] } {
  const rows = db
    .prepare(
      `SELECT name, type FROM main.sqlite_schema
       WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
       ORDER BY name`,
    )
    .safeIntegers(false)
    .all() as TableInfo[];
  return { tables: rows };
}

function describeTable(db: Database.Database, table: string): JobResult {
  // The name is bound, never interpolated: names such as `weird "name";--` are real.
  const columns = db
    .prepare(
      `SELECT name, type, "notnull" AS not_null, dflt_value AS default_value, pk AS primary_key
       FROM pragma_table_info(?, 'main') ORDER BY cid`,
    )
    .safeIntegers(false)
    .all(table) as Array<Omit<ColumnInfo, 'not_null' | 'primary_key'> & Record<string, unknown>>;
  if (columns.length === 0) {
    throw new Refusal('no_such_table', `no table or view named ${JSON.stringify(table)}`);
  }
  return {
    table,
    columns: columns.map((c) => ({
      name: c.name,
      type: c.type,
      not_null: c.not_null === 1,
      default_value: c.default_value,
      primary_key: (c.primary_key as number) > 0,
    })),
  };
}

function readQuery(db: Database.Database, sql: string, limits: ResultLimits): QueryResult {
  // better-sqlite3 refuses text with more than one statement.
  const stmt = db.prepare(sql);
  // `readonly` alone passes BEGIN, SAVEPOINT, ATTACH and DETACH; `reader` catches them, and
  // both together stop every write form, temp objects and VACUUM INTO (REFERENCE §7).
  if (!stmt.readonly || !stmt.reader) {
    throw new Refusal(
      'not_read_only',
      'only read-only queries that return rows are allowed (SELECT, WITH … SELECT, VALUES)',
    );
  }
  const columns = uniqueNames(stmt.columns().map((c) => c.name));
  const rows: Record<string, unknown>[] = [];
  let bytes = 2;
  let truncatedBy: QueryResult['truncated_by'];
  // iterate() with an early break: memory stays flat and the read lock is released by the
  // iterator's return() as soon as we stop.
  for (const raw of stmt.raw(true).iterate() as Iterable<unknown[]>) {
    if (rows.length >= limits.maxRows) {
      truncatedBy = 'max_rows';
      break;
    }
    const row: Record<string, unknown> = {};
    for (let i = 0; i < columns.length; i++) row[columns[i]!] = jsonValue(raw[i], limits.maxBytes);
    const size = JSON.stringify(row).length + 1;
    if (bytes + size > limits.maxBytes && rows.length > 0) {
      truncatedBy = 'max_bytes';
      break;
    }
    bytes += size;
    rows.push(row);
  }
  return {
    columns,
    rows,
    row_count: rows.length,
    truncated: truncatedBy !== undefined,
    ...(truncatedBy ? { truncated_by: truncatedBy } : {}),
  };
}

/** `SELECT 1 AS a, 2 AS a` is legal; keep every column by suffixing repeats. */
function uniqueNames(names: string[]): string[] {
  const seen = new Map<string, number>();
  return names.map((name) => {
    const count = (seen.get(name) ?? 0) + 1;
    seen.set(name, count);
    return count === 1 ? name : `${name}_${count}`;
  });
}

function jsonValue(value: unknown, maxChars: number): unknown {
  if (typeof value === 'bigint') {
    // Integers past 2^53 would lose digits as numbers; they travel as strings.
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value)
      : value.toString();
  }
  if (Buffer.isBuffer(value)) return { blob_bytes: value.length };
  if (typeof value === 'string' && value.length > maxChars) {
    return `${value.slice(0, maxChars)}… [${value.length - maxChars} more characters]`;
  }
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return value;
}

function run(db: Database.Database, job: Job): JobResult {
  switch (job.op) {
    case 'list_tables':
      return listTables(db);
    case 'describe_table':
      return describeTable(db, job.table);
    case 'read_query':
      return readQuery(db, job.sql, job.limits);
  }
}

/** SQLite messages rarely name files, but never let a path reach the caller. */
function scrub(message: string, path: string): string {
  return message.split(path).join('<database>').split(dirname(path)).join('<data directory>');
}

function failure(err: unknown, path: string): JobFailure {
  if (err instanceof Refusal) return { code: err.code, message: err.message };
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? e.code : 'sqlite_error';
  const message = typeof e.message === 'string' ? e.message : 'query failed';
  return { code, message: scrub(message, path) };
}

if (!file || !process.send) {
  console.error('query-worker must be started by the SQLite server with PORTCULLIS_SQLITE_FILE');
  process.exit(2);
}

let db: Database.Database;
try {
  db = open(file);
} catch (err) {
  send({ type: 'fatal', message: failure(err, file).message });
  process.exit(1);
}
process.on('message', (message: ParentMessage) => {
  let result: JobResult;
  try {
    result = run(db, message.job);
  } catch (err) {
    send({
      type: 'failed',
      id: message.id,
      failure: failure(err, file),
      rssBytes: process.memoryUsage.rss(),
    });
    return;
  }
  send({ type: 'done', id: message.id, result, rssBytes: process.memoryUsage.rss() });
});
process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
