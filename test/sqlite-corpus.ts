/**
 * The hostile SQL corpus sent to /sqlite read_query: hidden writes, temp shadows, other files,
 * PRAGMAs, transactions, extensions, resource bombs, parse bombs and odd text. Shared by the
 * hostile test (which judges each entry by its effects) and the servers memory bench (which
 * measures what the host holds after it). `dir` and `other` come from `makeDataDir`.
 */
export const RECURSE = 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c)';

export function hostileCorpus(dir: string, other: string): Array<[string, string]> {
  return [
    // Plain and hidden writes.
    ['delete', 'DELETE FROM t'],
    ['update', "UPDATE t SET name = 'x'"],
    ['insert', 'INSERT INTO t (name) VALUES (1)'],
    ['drop', 'DROP TABLE t'],
    ['create', 'CREATE TABLE evil (a)'],
    ['returning', 'DELETE FROM t RETURNING *'],
    ['insert returning', "INSERT INTO t (name) VALUES ('x') RETURNING id"],
    ['cte delete', 'WITH x AS (SELECT 1) DELETE FROM t'],
    ['cte insert', 'WITH x(a) AS (SELECT 1) INSERT INTO t (name) SELECT a FROM x'],
    ['comment prefix', '/* SELECT */ DELETE FROM t'],
    ['line comment prefix', '-- SELECT\nDELETE FROM t'],
    ['stacked', 'SELECT 1; DELETE FROM t'],
    ['stacked drop', 'SELECT 1;DROP TABLE t;'],
    ['replace', "REPLACE INTO t VALUES (1, 'x', 0)"],
    ['upsert', "INSERT INTO t VALUES (1, 'x', 0) ON CONFLICT DO UPDATE SET name = 'y'"],
    // Temp objects that would shadow real tables for later callers.
    ['temp table', 'CREATE TEMP TABLE t (fake)'],
    ['temp view', "CREATE TEMP VIEW t AS SELECT 'shadow' AS name"],
    ['temp trigger', 'CREATE TEMP TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END'],
    // Other files.
    ['attach relative', "ATTACH 'other.db' AS o"],
    ['attach absolute', `ATTACH DATABASE '${other}' AS o`],
    ['attach memory', "ATTACH ':memory:' AS m"],
    ['attached read', 'SELECT * FROM o.secret'],
    ['detach', 'DETACH main'],
    ['vacuum into', `VACUUM INTO '${dir}/copy.db'`],
    ['vacuum into tmp', "VACUUM INTO '/tmp/portcullis-stolen.db'"],
    ['vacuum', 'VACUUM'],
    ['analyze', 'ANALYZE'],
    ['reindex', 'REINDEX'],
    // PRAGMAs, some of which act while being prepared.
    ['query_only off', 'PRAGMA query_only = 0'],
    ['journal wal', 'PRAGMA journal_mode = WAL'],
    ['locking exclusive', 'PRAGMA locking_mode = EXCLUSIVE'],
    ['user_version', 'PRAGMA user_version = 7'],
    ['writable_schema', 'PRAGMA writable_schema = ON'],
    ['explain pragma', 'EXPLAIN PRAGMA user_version = 5'],
    ['database_list', 'SELECT * FROM pragma_database_list'],
    ['database_list quoted', 'SELECT file FROM "pragma_database_list"'],
    ['database_list string', "SELECT * FROM 'pragma_database_list'"],
    ['optimize', 'SELECT * FROM pragma_optimize'],
    ['lowercase pragma after comment', '/**/pragma cache_size = 1'],
    // Transactions and locks.
    ['begin', 'BEGIN'],
    ['begin immediate', 'BEGIN IMMEDIATE'],
    ['begin exclusive', 'BEGIN EXCLUSIVE'],
    ['savepoint', 'SAVEPOINT s'],
    ['commit', 'COMMIT'],
    ['rollback', 'ROLLBACK'],
    ['end', 'END'],
    // Extensions and file access.
    ['load_extension libc', "SELECT load_extension('/lib/x86_64-linux-gnu/libc.so.6')"],
    ['load_extension relative', "SELECT load_extension('other.db')"],
    ['readfile', "SELECT readfile('/etc/passwd')"],
    ['fts3 tokenizer', "SELECT fts3_tokenizer('simple')"],
    // Resource bombs: rows, CPU and memory.
    ['huge result', 'SELECT * FROM big'],
    ['endless rows', `${RECURSE} SELECT x, randomblob(100) FROM c`],
    ['cpu count', `${RECURSE} SELECT count(*) FROM c`],
    ['cartesian', 'SELECT count(*) FROM big a, big b, big c'],
    ['sort bomb', `${RECURSE} SELECT x FROM c ORDER BY random() LIMIT 1`],
    ['giant blob', 'SELECT randomblob(900000000)'],
    ['several blobs', 'SELECT length(randomblob(400000000) || randomblob(400000000))'],
    ['zeroblob', 'SELECT zeroblob(2000000000)'],
    ['hex growth', "SELECT length(replace(hex(zeroblob(50000000)), '0', '000000'))"],
    // Parse bombs.
    ['deep parens', `SELECT ${'('.repeat(45_000)}1${')'.repeat(45_000)}`],
    ['long compound', `SELECT 1${' UNION ALL SELECT 1'.repeat(4000)}`],
    ['wide expression', `SELECT ${Array.from({ length: 9000 }, () => '1').join('+')}`],
    ['oversize text', `SELECT '${'a'.repeat(200_000)}'`],
    ['deep subqueries', `SELECT ${'(SELECT '.repeat(3000)}1${')'.repeat(3000)}`],
    // NUL bytes and odd text.
    ['nul stacked', 'SELECT 1;\0DROP TABLE t'],
    ['nul in string', "SELECT 'a\0b'"],
    ['lone surrogate', "SELECT '\ud800' AS s"],
    ['invalid utf-8 stored', 'SELECT v FROM texts'],
    ['odd table name', 'SELECT * FROM "weird ""name"";--"'],
    ['table called pragma', 'SELECT pragma FROM "pragma"'],
    ['unicode table', 'SELECT * FROM "ünïcödé 表"'],
    ['syntax error echo', `SELECT * FROM "${dir}"`],
    ['sqlite_schema', 'SELECT sql FROM sqlite_schema'],
  ];
}
