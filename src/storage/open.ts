import { StorageError } from './errors.js';
import { createMemoryStorage } from './memory.js';
import { openSqliteStorage } from './sqlite.js';
import type { Storage } from './types.js';

/** Which backend to open; the same shape as the gateway config's `storage`. */
export type StorageOptions =
  | { readonly type: 'memory' }
  | { readonly type: 'sqlite'; readonly file: string }
  | { readonly type: 'postgres'; readonly connectionString: string };

/** Opens the configured backend, creating or migrating its schema as needed. */
export async function openStorage(config: StorageOptions): Promise<Storage> {
  switch (config.type) {
    case 'memory':
      return createMemoryStorage();
    case 'sqlite':
      return openSqliteStorage(config.file);
    case 'postgres':
      throw new StorageError(
        'ERR_STORAGE_NOT_IMPLEMENTED',
        'PostgreSQL storage is not implemented yet: set databroker_storage_type to sqlite (the default) or memory.',
      );
  }
}
