/**
 * Pool size, deadlines and TLS from the connection string, as Pomerium users write them (pgx's
 * `pool_max_conns`, libpq's `connect_timeout` and `sslmode`/`sslrootcert`/`sslcert`/`sslkey`,
 * and the server setting `statement_timeout`). They are taken out of the URL and handed to
 * node-postgres as options, so that what reaches it is a plain libpq URL and their meaning is
 * ours (node-postgres reads `sslmode=require` differently from libpq).
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { ConfigError } from '../core/errors.js';

export type SslMode = 'disable' | 'require' | 'verify-ca' | 'verify-full';

export interface PostgresTls {
  readonly mode: Exclude<SslMode, 'disable'>;
  /** A CA bundle file, or undefined for the system's CAs (`sslrootcert=system` or none). */
  readonly rootCertFile: string | undefined;
  readonly certFile: string | undefined;
  readonly keyFile: string | undefined;
}

export interface PostgresSettings {
  /** The connection string without the keys read here. */
  readonly connectionString: string;
  /** `pool_max_conns` (default 10). */
  readonly maxConnections: number;
  /** `connect_timeout`, in ms here (seconds in the URL; default 5 s; 0: none). */
  readonly connectTimeoutMs: number;
  /** `statement_timeout` in ms, enforced by the server (default 10 s; 0: none). */
  readonly statementTimeoutMs: number;
  /** The client's own deadline per query, a little past the server's (0: none). */
  readonly queryTimeoutMs: number;
  readonly tls: PostgresTls | undefined;
}

export const POSTGRES_DEFAULTS = Object.freeze({
  maxConnections: 10,
  connectTimeoutMs: 5_000,
  statementTimeoutMs: 10_000,
});

/**
 * How much longer than the server's deadline the client waits for an answer: long enough for
 * the server's cancellation (57014) to arrive first, short enough that a server that stopped
 * answering altogether still frees the request quickly.
 */
const QUERY_TIMEOUT_MARGIN_MS = 1_000;

/** pgx reads every `pool_*` key; only `pool_max_conns` means something here. */
const POOL_PREFIX = 'pool_';
const OWN_KEYS = ['connect_timeout', 'statement_timeout', 'sslmode'] as const;
const SSL_FILE_KEYS = ['sslrootcert', 'sslcert', 'sslkey'] as const;
const SSL_MODES: readonly string[] = ['disable', 'require', 'verify-ca', 'verify-full'];

/** A bad value for `key`: the message names the key and never shows the rest of the URL. */
class BadOption extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(`${key}: ${message}`);
  }
}

/**
 * What is wrong with the options of `connectionString`, as `key: message`, or undefined when
 * nothing is: `portcullis check` reports it at the config line, start-up throws it.
 */
export function postgresOptionsProblem(connectionString: string): string | undefined {
  try {
    readSettings(connectionString);
    return undefined;
  } catch (err) {
    if (err instanceof BadOption) return err.message;
    throw err;
  }
}

/**
 * The settings in `connectionString`, defaults filled in. Throws `ConfigError` from `source`
 * (the config key the string came from) naming the bad key.
 */
export function parsePostgresOptions(
  connectionString: string,
  source = 'databroker_storage_connection_string',
): PostgresSettings {
  try {
    return readSettings(connectionString);
  } catch (err) {
    if (err instanceof BadOption) throw new ConfigError(source, err.message);
    throw err;
  }
}

function readSettings(connectionString: string): PostgresSettings {
  let url: URL;
  try {
    url = new URL(connectionString);
  } catch {
    // A form URL cannot parse (several hosts, say): node-postgres reads it as it is.
    return { connectionString, ...defaults(), tls: undefined };
  }
  const params = url.searchParams;
  const maxConnections = integer(params, 'pool_max_conns', 1) ?? POSTGRES_DEFAULTS.maxConnections;
  const connectTimeout = integer(params, 'connect_timeout', 0);
  const statementTimeoutMs =
    duration(params, 'statement_timeout') ?? POSTGRES_DEFAULTS.statementTimeoutMs;
  const tls = readTls(params);
  const stripped = [...params.keys()].filter(
    (k) =>
      k.startsWith(POOL_PREFIX) ||
      (OWN_KEYS as readonly string[]).includes(k) ||
      (SSL_FILE_KEYS as readonly string[]).includes(k),
  );
  for (const key of stripped) params.delete(key);
  return {
    connectionString: stripped.length === 0 ? connectionString : url.href,
    maxConnections,
    connectTimeoutMs:
      connectTimeout === undefined ? POSTGRES_DEFAULTS.connectTimeoutMs : connectTimeout * 1000,
    statementTimeoutMs,
    queryTimeoutMs: statementTimeoutMs === 0 ? 0 : statementTimeoutMs + QUERY_TIMEOUT_MARGIN_MS,
    tls,
  };
}

function defaults(): Omit<PostgresSettings, 'connectionString' | 'tls'> {
  const { statementTimeoutMs } = POSTGRES_DEFAULTS;
  return {
    ...POSTGRES_DEFAULTS,
    queryTimeoutMs: statementTimeoutMs + QUERY_TIMEOUT_MARGIN_MS,
  };
}

/** The one value of `key`, or undefined when absent; given twice is ambiguous, so refused. */
function single(params: URLSearchParams, key: string): string | undefined {
  const values = params.getAll(key);
  if (values.length > 1) throw new BadOption(key, 'given more than once');
  return values[0];
}

function integer(params: URLSearchParams, key: string, min: number): number | undefined {
  const text = single(params, key);
  if (text === undefined) return undefined;
  const n = /^\d{1,9}$/.test(text) ? Number(text) : NaN;
  if (!(n >= min)) {
    throw new BadOption(key, `expected a whole number of at least ${min}, got "${text}"`);
  }
  return n;
}

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, min: 60_000, h: 3_600_000 };

/** Milliseconds, as PostgreSQL reads the setting: a bare number, or one with ms, s, min, h. */
function duration(params: URLSearchParams, key: string): number | undefined {
  const text = single(params, key);
  if (text === undefined) return undefined;
  const m = /^(\d{1,9})\s*(ms|s|min|h)?$/.exec(text.trim());
  if (!m) {
    throw new BadOption(
      key,
      `expected milliseconds (or a number with ms, s, min, h), got "${text}"`,
    );
  }
  const ms = Number(m[1]) * UNIT_MS[m[2] ?? 'ms']!;
  if (ms > 2_147_483_647) throw new BadOption(key, `at most 2147483647 ms, got "${text}"`);
  return ms;
}

/**
 * libpq's modes (§34.19.1), less `allow` and `prefer`: node-postgres cannot fall back from TLS
 * to plain text. No sslmode: plain, unless a certificate file is named (then verify-full).
 * `require` with a root certificate checks the chain, as libpq does.
 */
function readTls(params: URLSearchParams): PostgresTls | undefined {
  const mode = single(params, 'sslmode');
  const [rootCert, certFile, keyFile] = SSL_FILE_KEYS.map((k) => {
    const value = single(params, k);
    if (value === '') throw new BadOption(k, 'expected a file path, got an empty value');
    return value;
  });
  if (mode !== undefined && !SSL_MODES.includes(mode)) {
    throw new BadOption(
      'sslmode',
      `expected disable, require, verify-ca or verify-full, got "${mode}"` +
        (mode === 'prefer' || mode === 'allow' ? ' (no fallback to plain text here)' : ''),
    );
  }
  if ((certFile === undefined) !== (keyFile === undefined)) {
    const missing = certFile === undefined ? 'sslcert' : 'sslkey';
    throw new BadOption(
      missing,
      'required with sslcert and sslkey: a client certificate and its key',
    );
  }
  if (mode === 'disable') return undefined;
  const anyFile = rootCert !== undefined || certFile !== undefined;
  if (mode === undefined && !anyFile) return undefined;
  const effective = (mode ?? 'verify-full') as PostgresTls['mode'];
  return {
    mode: effective === 'require' && rootCert !== undefined ? 'verify-ca' : effective,
    rootCertFile: rootCert === 'system' ? undefined : rootCert,
    certFile,
    keyFile,
  };
}

/**
 * node-postgres's `ssl` option for `tls`, the files read now: a file that cannot be read is a
 * config error naming its key, found at start rather than at the first connection.
 */
export function tlsOptions(
  tls: PostgresTls,
  source = 'databroker_storage_connection_string',
): ConnectionOptions {
  const read = (key: string, file: string | undefined) => {
    if (file === undefined) return undefined;
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(source, `${key}: cannot read ${file}: ${(err as Error).message}`);
    }
  };
  const ca = read('sslrootcert', tls.rootCertFile);
  const cert = read('sslcert', tls.certFile);
  const key = read('sslkey', tls.keyFile);
  return {
    ...(ca !== undefined ? { ca } : {}),
    ...(cert !== undefined && key !== undefined ? { cert, key } : {}),
    rejectUnauthorized: tls.mode !== 'require',
    // verify-ca: the chain is checked, the host name is not (libpq's meaning).
    ...(tls.mode === 'verify-ca' ? { checkServerIdentity: () => undefined } : {}),
  };
}
