/** The large table for the read_query benchmark, generated once into the cache directory. */
import Database from 'better-sqlite3';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CACHE_DIR } from './spawn.js';

/**
 * Returns the path of a database whose table `t` has `rows` rows (id, name, email, score,
 * created_at, note: about 130 bytes of JSON per row), creating it on first use.
 */
export function ensureBigTable(rows: number): { file: string; created: boolean; ms: number } {
  mkdirSync(CACHE_DIR, { recursive: true });
  const file = join(CACHE_DIR, `t-${rows}.db`);
  if (existsSync(file)) return { file, created: false, ms: 0 };
  const started = performance.now();
  const partial = `${file}.partial`;
  rmSync(partial, { force: true });
  const db = new Database(partial);
  db.pragma('journal_mode = OFF');
  db.pragma('synchronous = OFF');
  db.exec(`CREATE TABLE t (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    score REAL,
    created_at TEXT,
    note TEXT
  )`);
  db.prepare(
    `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
     INSERT INTO t
     SELECT i, 'User ' || i, 'user' || i || '@example.com', (i * 7919 % 10000) / 100.0,
            datetime(1700000000 + i * 60, 'unixepoch'),
            substr('Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor',
                   1 + i % 23, 20 + i % 37)
     FROM n`,
  ).run(rows);
  db.close();
  // Renamed only when complete, so an interrupted run never leaves a short table behind.
  renameSync(partial, file);
  return { file, created: true, ms: performance.now() - started };
}

/** A small database (three short tables) for per-request figures: list_tables stays cheap. */
export function ensureSmallDb(): string {
  mkdirSync(CACHE_DIR, { recursive: true });
  const file = join(CACHE_DIR, 'small.db');
  if (existsSync(file)) return file;
  const partial = `${file}.partial`;
  rmSync(partial, { force: true });
  const db = new Database(partial);
  db.exec(`
    CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT);
    CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER, total REAL);
    CREATE TABLE products (id INTEGER PRIMARY KEY, label TEXT, price REAL);
    INSERT INTO customers VALUES (1, 'Ada', 'ada@example.com'), (2, 'Bob', 'bob@example.com');
    INSERT INTO orders VALUES (1, 1, 9.5), (2, 2, 12.25);
    INSERT INTO products VALUES (1, 'Widget', 2.5), (2, 'Gadget', 7.75);
  `);
  db.close();
  renameSync(partial, file);
  return file;
}
