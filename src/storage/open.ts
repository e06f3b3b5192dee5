import { createLocalBus } from './invalidation.js';
import { createMemoryStorage } from './memory.js';
import { openPostgresStorage } from './postgres.js';
import { publishingStorage } from './publishing.js';
import { openSqliteStorage } from './sqlite.js';
import type { Storage } from './types.js';

/** Which backend to open; the same shape as the gateway config's `storage`. */
export type StorageOptions =
  | { readonly type: 'memory' }
  | { readonly type: 'sqlite'; readonly file: string }
  | { readonly type: 'postgres'; readonly connectionString: string };

export interface OpenStorageOptions {
  /** Told of failures outside any call, e.g. a PostgreSQL connection lost while idle. */
  readonly onError?: (err: Error) => void;
  /** Where the connection string came from (`FILE databroker_storage_connection_string`). */
  readonly source?: string;
}

/**
 * Opens the configured backend, creating or migrating its schema as needed. Its revoking
 * writes are announced on its invalidation bus (`publishing.ts`): PostgreSQL's own, reaching
 * every replica, or one in this process for the backends only one process uses.
 */
export async function openStorage(
  config: StorageOptions,
  options: OpenStorageOptions = {},
): Promise<Storage> {
  const storage = await openBackend(config, options);
  return publishingStorage(storage, storage.invalidation ?? createLocalBus());
}

async function openBackend(config: StorageOptions, options: OpenStorageOptions): Promise<Storage> {
  switch (config.type) {
    case 'memory':
      return createMemoryStorage();
    case 'sqlite':
      return openSqliteStorage(config.file);
    case 'postgres':
      return openPostgresStorage(config.connectionString, options);
  }
}
