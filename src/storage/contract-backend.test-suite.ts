/** A storage backend as the contract suites drive it (`contract.test-suite.ts`). */
import type { Storage } from './types.js';

export interface BackendUnderTest {
  readonly storage: Storage;
  /** Closes `storage` and opens the same data again (persistent backends only). */
  reopen?(): Promise<Storage>;
  /** The recorded schema version (persistent backends only). */
  schemaVersion?(): Promise<number>;
  /** Records `version` as applied, as a newer release would (called with storage closed). */
  recordSchemaVersion?(version: number): Promise<void>;
  /** Closes whatever is still open and removes the data. */
  dispose(): Promise<void>;
}
