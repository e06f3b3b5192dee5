import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import { isStorageUnavailable, StorageError, StorageUnavailableError } from './errors.js';
import { guarded, isPostgresUnavailable, toStorageError } from './postgres-unavailable.js';

/** A TCP server that does `onSocket` to every connection: a stand-in for a broken database. */
async function tcpServer(onSocket: (socket: Socket) => void): Promise<Server & { url: string }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    onSocket(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return Object.assign(server, { url: `postgresql://u:p@127.0.0.1:${port}/db` });
}

async function closedPortUrl(): Promise<string> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return `postgresql://u:p@127.0.0.1:${port}/db`;
}

async function queryError(config: pg.PoolConfig): Promise<unknown> {
  const pool = new pg.Pool({ max: 1, ...config });
  pool.on('error', () => undefined);
  try {
    await pool.query('SELECT 1');
  } catch (err) {
    return err;
  } finally {
    await pool.end();
  }
  assert.fail('the query succeeded');
}

function serverError(code: string): pg.DatabaseError {
  const err = new pg.DatabaseError('from the server', 0, 'error');
  err.code = code;
  return err;
}

describe('PostgreSQL failures that mean "unavailable"', () => {
  test('nothing listening: ECONNREFUSED', async () => {
    const err = await queryError({ connectionString: await closedPortUrl() });
    assert.ok(isPostgresUnavailable(err), String(err));
  });

  test('the server hangs up: Connection terminated', async () => {
    const server = await tcpServer((socket) => socket.destroy());
    const err = await queryError({ connectionString: server.url });
    assert.match(String(err), /Connection terminated/);
    assert.ok(isPostgresUnavailable(err));
  });

  test('the server never answers: the pool connect timeout', async () => {
    const server = await tcpServer(() => undefined);
    const started = Date.now();
    const err = await queryError({ connectionString: server.url, connectionTimeoutMillis: 150 });
    assert.ok(Date.now() - started < 2_000);
    assert.ok(isPostgresUnavailable(err), String(err));
  });

  test('SQLSTATEs of a server that cannot serve now, and none of a bad statement', () => {
    for (const code of ['08006', '08001', '08P01', '57P01', '57P02', '57P03', '53300', '57014'])
      assert.ok(isPostgresUnavailable(serverError(code)), code);
    for (const code of ['42P01', '23505', '22P02', '40001', '53200', '57P04'])
      assert.equal(isPostgresUnavailable(serverError(code)), false, code);
    assert.equal(isPostgresUnavailable(new Error('syntax error at or near "SELEC"')), false);
    assert.equal(isPostgresUnavailable(undefined), false);
  });

  test('found inside an AggregateError (dual-stack connect) and a cause chain', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED ::1:5432'), {
      code: 'ECONNREFUSED',
    });
    const aggregate = new AggregateError([refused], '');
    assert.ok(isPostgresUnavailable(aggregate));
    const wrapped = toStorageError(aggregate);
    assert.ok(wrapped instanceof StorageUnavailableError);
    assert.match(wrapped.message, /ECONNREFUSED ::1:5432/);
    assert.ok(isPostgresUnavailable(new Error('outer', { cause: refused })));
  });
});

describe('StorageUnavailableError', () => {
  test('has the stable code, is a StorageError, and keeps the driver error as cause', () => {
    const cause = serverError('57P01');
    const err = toStorageError(cause);
    assert.ok(err instanceof StorageUnavailableError);
    assert.ok(err instanceof StorageError);
    assert.equal(err.code, 'ERR_STORAGE_UNAVAILABLE');
    assert.equal(err.cause, cause);
  });

  test('isStorageUnavailable sees it through a cause chain, and nothing else', () => {
    const err = new StorageUnavailableError('down');
    assert.ok(isStorageUnavailable(err));
    const wrapped = new Error('server_error', { cause: new Error('adapter', { cause: err }) });
    assert.ok(isStorageUnavailable(wrapped));
    assert.equal(isStorageUnavailable(new StorageError('ERR_STORAGE_CLOSED', 'closed')), false);
    assert.equal(isStorageUnavailable(serverError('57P01')), false, 'only once classified');
    assert.equal(isStorageUnavailable(null), false);
    const loop: { cause?: unknown } = {};
    loop.cause = loop;
    assert.equal(isStorageUnavailable(loop), false);
  });

  test('guarded converts an unavailable database and passes other errors through', async () => {
    await assert.rejects(
      guarded(() => Promise.reject(serverError('57P03'))),
      (err) => isStorageUnavailable(err),
    );
    const bad = serverError('42P01');
    await assert.rejects(
      guarded(() => Promise.reject(bad)),
      (err) => err === bad,
    );
    assert.equal(await guarded(() => Promise.resolve(7)), 7);
  });
});
