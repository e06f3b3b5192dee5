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
