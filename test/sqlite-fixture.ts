import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const OTHER_FILE_SECRET = 'TOP-SECRET-OTHER-FILE-7f3a';

/**
 * A data directory holding `target.db` (the served database: ordinary tables, odd names,
 * blobs, huge integers, invalid UTF-8 and a `big` table of `bigRows` rows) and `other.db`,
 * a second database whose contents must never leak.
 */
export function makeDataDir(bigRows = 20_000): { dir: string; file: string; other: string } {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-sqlite-'));
  const file = join(dir, 'target.db');
  const other = join(dir, 'other.db');
  const db = new Database(file);
  db.exec(`
    CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, score REAL);
    INSERT INTO t VALUES (1, 'alpha', 1.5), (2, 'beta', 2.5), (3, 'gamma', NULL);
    CREATE TABLE "weird ""name"";--" (a TEXT, "b c" INTEGER NOT NULL DEFAULT 7);
    INSERT INTO "weird ""name"";--" VALUES ('odd', 1);
    CREATE TABLE "pragma" (pragma TEXT);
    INSERT INTO "pragma" VALUES ('a table called pragma');
    CREATE TABLE "ünïcödé 表" (v TEXT);
    INSERT INTO "ünïcödé 表" VALUES ('ok');
    CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB);
    INSERT INTO blobs VALUES (1, randomblob(5000)), (2, x'00ff');
    CREATE TABLE numbers (n INTEGER);
    INSERT INTO numbers VALUES (9223372036854775807), (42), (-9007199254740993);
    CREATE TABLE texts (v TEXT);
    INSERT INTO texts VALUES (CAST(x'c328ff61' AS TEXT)), (printf('%.300000c', 'x'));
    CREATE TABLE big (id INTEGER PRIMARY KEY, label TEXT, value REAL);
    CREATE VIEW small_t AS SELECT id, name FROM t WHERE id < 3;
  `);
  const insert = db.prepare('INSERT INTO big VALUES (?, ?, ?)');
  db.transaction(() => {
    for (let i = 1; i <= bigRows; i++) insert.run(i, `row ${i}`, i / 7);
  })();
  db.close();
  const o = new Database(other);
  o.exec(`CREATE TABLE secret (v TEXT); INSERT INTO secret VALUES ('${OTHER_FILE_SECRET}');`);
  o.close();
  return { dir, file, other };
}

/** File name → sha256 of every file in `dir`: equal snapshots mean a byte-identical directory. */
export function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir).sort()) {
    out[name] = createHash('sha256')
      .update(readFileSync(join(dir, name)))
      .digest('hex');
  }
  return out;
}

/** Whether an outside writer can take the write lock right now (no waiting). */
export function writerCanLock(file: string): boolean {
  const db = new Database(file, { timeout: 0 });
  try {
    db.exec('BEGIN IMMEDIATE');
    db.exec('ROLLBACK');
    return true;
  } catch {
    return false;
  } finally {
    db.close();
  }
}
