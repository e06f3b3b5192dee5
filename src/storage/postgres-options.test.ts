import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ConfigError } from '../core/errors.js';
import {
  parsePostgresOptions,
  postgresOptionsProblem,
  tlsOptions,
  type PostgresSettings,
} from './postgres-options.js';

const BASE = 'postgresql://gw:s3cret@db.internal:5432/portcullis';
const parse = (query: string): PostgresSettings => parsePostgresOptions(`${BASE}?${query}`);

/** Asserts that `query` is refused with a ConfigError naming `key` and not leaking the URL. */
function refused(query: string, key: string, detail?: RegExp): void {
  assert.throws(
    () => parse(query),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.match(err.message, new RegExp(`^databroker_storage_connection_string: ${key}: `));
      if (detail) assert.match(err.message, detail);
      assert.doesNotMatch(err.message, /s3cret|db\.internal/);
      return true;
    },
  );
  assert.match(postgresOptionsProblem(`${BASE}?${query}`) ?? '', new RegExp(`^${key}: `));
}

describe('postgres connection-string options', () => {
  test('defaults: 10 connections, connect 5 s, statement 10 s, the client a little later', () => {
    const s = parsePostgresOptions(BASE);
    assert.deepEqual(s, {
      connectionString: BASE,
      maxConnections: 10,
      connectTimeoutMs: 5_000,
      statementTimeoutMs: 10_000,
      queryTimeoutMs: 11_000,
      tls: undefined,
    });
    assert.equal(postgresOptionsProblem(BASE), undefined);
  });

  test('reads pool_max_conns, connect_timeout (s) and statement_timeout (ms or units)', () => {
    const s = parse('pool_max_conns=25&connect_timeout=3&statement_timeout=2500');
    assert.equal(s.maxConnections, 25);
    assert.equal(s.connectTimeoutMs, 3_000);
    assert.equal(s.statementTimeoutMs, 2_500);
    assert.equal(s.queryTimeoutMs, 3_500);
    assert.equal(parse('statement_timeout=30s').statementTimeoutMs, 30_000);
    assert.equal(parse('statement_timeout=2min').statementTimeoutMs, 120_000);
    const off = parse('statement_timeout=0&connect_timeout=0');
    assert.equal(off.statementTimeoutMs, 0);
    assert.equal(off.queryTimeoutMs, 0, 'no server deadline: no client one either');
    assert.equal(off.connectTimeoutMs, 0);
  });

  test('takes its keys and pgx pool_* out of the URL, keeps the libpq ones', () => {
    const s = parse(
      'pool_max_conns=5&pool_min_conns=1&application_name=gw&connect_timeout=2' +
        '&statement_timeout=100&options=-c%20search_path%3Dx&sslmode=disable',
    );
    const url = new URL(s.connectionString);
    assert.deepEqual([...url.searchParams.keys()].sort(), ['application_name', 'options']);
    assert.equal(url.searchParams.get('options'), '-c search_path=x');
    assert.equal(url.password, 's3cret');
    assert.equal(url.host, 'db.internal:5432');
  });

  test('a bad value is a config error naming its key', () => {
    refused('pool_max_conns=0', 'pool_max_conns', /at least 1, got "0"/);
    refused('pool_max_conns=ten', 'pool_max_conns');
    refused('pool_max_conns=1&pool_max_conns=2', 'pool_max_conns', /more than once/);
    refused('connect_timeout=-1', 'connect_timeout');
    refused('connect_timeout=1.5', 'connect_timeout');
    refused('statement_timeout=soon', 'statement_timeout');
    refused('statement_timeout=9999999h', 'statement_timeout', /at most/);
    refused('sslmode=prefer', 'sslmode', /no fallback/);
    refused('sslmode=strict', 'sslmode');
    refused('sslmode=require&sslcert=/c.pem', 'sslkey');
    refused('sslmode=require&sslkey=/k.pem', 'sslcert');
    refused('sslrootcert=', 'sslrootcert');
  });

  test('sslmode as libpq means it; files named without sslmode mean verify-full', () => {
    assert.equal(parse('sslmode=disable&sslrootcert=/ca.pem').tls, undefined);
    assert.deepEqual(parse('sslmode=require').tls, {
      mode: 'require',
      rootCertFile: undefined,
      certFile: undefined,
      keyFile: undefined,
    });
    assert.equal(parse('sslmode=require&sslrootcert=/ca.pem').tls?.mode, 'verify-ca');
    assert.equal(parse('sslmode=verify-ca&sslrootcert=/ca.pem').tls?.mode, 'verify-ca');
    const full = parse('sslmode=verify-full&sslrootcert=system');
    assert.equal(full.tls?.mode, 'verify-full');
    assert.equal(full.tls?.rootCertFile, undefined, 'system: the system CAs');
    assert.equal(parse('sslrootcert=/ca.pem').tls?.mode, 'verify-full');
    assert.equal(
      new URL(parse('sslmode=verify-full&sslrootcert=/ca.pem').connectionString).search,
      '',
    );
  });
});

describe('postgres TLS options', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pg-tls-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  test('reads the files; require skips verification, verify-ca skips only the name', () => {
    const ca = file('ca.pem', 'CA');
    const cert = file('c.pem', 'CERT');
    const key = file('k.pem', 'KEY');
    const q = `sslrootcert=${ca}&sslcert=${cert}&sslkey=${key}`;
    const full = tlsOptions(parse(`sslmode=verify-full&${q}`).tls!);
    assert.deepEqual(full, { ca: 'CA', cert: 'CERT', key: 'KEY', rejectUnauthorized: true });
    const verifyCa = tlsOptions(parse(`sslmode=verify-ca&${q}`).tls!);
    assert.equal(verifyCa.rejectUnauthorized, true);
    assert.equal(verifyCa.checkServerIdentity?.('db.internal', {} as never), undefined);
    const required = tlsOptions(parse('sslmode=require').tls!);
    assert.deepEqual(required, { rejectUnauthorized: false });
  });

  test('a file that cannot be read is a config error naming its key', () => {
    const missing = join(dir, 'absent.pem');
    assert.throws(
      () => tlsOptions(parse(`sslmode=verify-full&sslrootcert=${missing}`).tls!, 'f.yaml key'),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.message.startsWith(`f.yaml key: sslrootcert: cannot read ${missing}`),
    );
  });
});
