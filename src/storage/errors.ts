/** A storage failure the operator must act on, with a stable code. */
export class StorageError extends Error {
  constructor(
    readonly code: 'ERR_STORAGE_SCHEMA_TOO_NEW' | 'ERR_STORAGE_CLOSED' | 'ERR_STORAGE_UNAVAILABLE',
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'StorageError';
  }
}

/**
 * The storage cannot be reached right now (database down, restarting, out of connections, a
 * query past its deadline): the request may succeed if retried later, so callers answer 503
 * with `Retry-After` rather than 500. `cause` is the driver's error, for the log only.
 */
export class StorageUnavailableError extends StorageError {
  declare readonly code: 'ERR_STORAGE_UNAVAILABLE';
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_STORAGE_UNAVAILABLE', message, options);
    this.name = 'StorageUnavailableError';
  }
}

/** How deep `isStorageUnavailable` follows `cause`: wrappers nest a few levels at most. */
const MAX_CAUSE_DEPTH = 8;

/**
 * Whether `err`, or an error in its `cause` chain (libraries such as oidc-provider wrap what
 * an adapter throws), says the storage is unavailable. Matches on the stable code, so a copy
 * of this module loaded twice still agrees.
 */
export function isStorageUnavailable(err: unknown): boolean {
  let current = err;
  for (let depth = 0; depth < MAX_CAUSE_DEPTH; depth++) {
    if (typeof current !== 'object' || current === null) return false;
    if ((current as { code?: unknown }).code === 'ERR_STORAGE_UNAVAILABLE') return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}
