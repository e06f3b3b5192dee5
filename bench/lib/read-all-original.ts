/**
 * The original server's way of answering read_query, run as a process of its own so its
 * memory can be read: open the database, read every row with `.all()`, JSON-encode the rows
 * and cut the text at 10 KB. Prints one JSON line: time, rows read, peak resident memory.
 *
 * Usage: node read-all-original.js <db file> <sql>
 */
import Database from 'better-sqlite3';
import { statusKib } from './proc.js';

const [file, sql] = process.argv.slice(2);
if (!file || !sql) throw new Error('usage: read-all-original.js <db file> <sql>');

const started = performance.now();
const db = new Database(file, { readonly: true });
const rows = db.prepare(sql).all();
const text = JSON.stringify(rows).slice(0, 10 * 1024);
const ms = performance.now() - started;
db.close();
console.log(
  JSON.stringify({ ms, rows: rows.length, bytes: text.length, hwmKib: statusKib('self', 'VmHWM') }),
);
