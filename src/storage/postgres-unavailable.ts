/**
 * Which PostgreSQL failures mean "the database cannot serve right now" rather than "this query
 * is wrong": those become `StorageUnavailableError`, so a request that needs storage is answered
 * 503 with `Retry-After` and the gateway keeps running while the database restarts.
 */
import { StorageUnavailableError } from './errors.js';

/** Socket errors: the server is down, restarting, or cut off. */
const NET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

/**
 * SQLSTATEs (PostgreSQL Appendix A) that say the server, not the statement, is the problem:
 * class 08 connection exceptions, 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03
 * cannot_connect_now (starting up or in recovery), 53300 too_many_connections and 57014
 * query_canceled (the statement_timeout this gateway sets).
 */
const SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '57014']);

/** Errors node-postgres raises itself, with no code: a dead connection or a deadline passed. */
const DRIVER_MESSAGES = [
  /^Connection terminated/i, // server went away, or the connect timeout cut it
  /timeout exceeded when trying to connect/i, // pool checkout past connectionTimeoutMillis
  /^Query read timeout/i, // query_timeout
  /is not queryable/i, // a client whose connection already failed
  /^Client has encountered a connection error/i,
];

/** How deep to look through `cause` and AggregateError's `errors` (dual-stack connects). */
const MAX_DEPTH = 4;

/** Whether `err` says the database is unreachable or refusing work for now. */
export function isPostgresUnavailable(err: unknown, depth = 0): boolean {
  if (typeof err !== 'object' || err === null || depth > MAX_DEPTH) return false;
  const { code, message, cause, errors } = err as {
    code?: unknown;
    message?: unknown;
    cause?: unknown;
    errors?: unknown;
  };
  if (typeof code === 'string' && (NET_CODES.has(code) || isServerSqlState(code))) return true;
  if (typeof message === 'string' && DRIVER_MESSAGES.some((re) => re.test(message))) return true;
  if (Array.isArray(errors) && errors.some((e) => isPostgresUnavailable(e, depth + 1))) return true;
  return isPostgresUnavailable(cause, depth + 1);
}

function isServerSqlState(code: string): boolean {
  return /^08[0-9A-Z]{3}$/.test(code) || SQLSTATES.has(code);
}

/** `err` as a `StorageUnavailableError` when it is one of those failures, else unchanged. */
export function toStorageError(err: unknown): unknown {
  if (!isPostgresUnavailable(err)) return err;
  return new StorageUnavailableError(`PostgreSQL storage is unavailable: ${reasonOf(err)}`, {
    cause: err,
  });
}

/** A dual-stack connect fails with an AggregateError whose own message is empty. */
function reasonOf(err: unknown): string {
  const { message, errors } = err as { message?: unknown; errors?: unknown };
  if (typeof message === 'string' && message !== '') return message;
  if (Array.isArray(errors) && errors.length > 0) return reasonOf(errors[0]);
  return String(err);
}

/** Runs one database call, turning an unavailable database into `StorageUnavailableError`. */
export async function guarded<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw toStorageError(err);
  }
}
