/** A storage failure the operator must act on, with a stable code. */
export class StorageError extends Error {
  constructor(
    readonly code: 'ERR_STORAGE_SCHEMA_TOO_NEW' | 'ERR_STORAGE_CLOSED',
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'StorageError';
  }
}
