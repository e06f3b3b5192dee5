/**
 * The whole embedded system of `npm start` for tests: on an ephemeral port, with its data
 * directory (SQLite storage, secrets) in a fresh temporary directory, a dev user of the test's
 * choosing and a silent logger.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDevSystem, type DevSystem, type DevSystemOptions } from '../../src/cli/dev.js';
import { silentLogger } from './host.js';

export interface TestDevSystem {
  readonly system: DevSystem;
  /** The temporary PORTCULLIS_DATA_DIR. */
  readonly dataDir: string;
  /** Closes the system, then removes its data directory. */
  close(): Promise<void>;
}

export async function startTestDevSystem(options: {
  /** The dev user (PORTCULLIS_DEV_EMAIL, PORTCULLIS_DEV_PASSWORD). */
  email: string;
  password: string;
  /** Starts the temporary directory's name: `<prefix>-XXXXXX`. */
  dirPrefix?: string;
  /** The gateway's port; default an ephemeral one. */
  port?: number;
  /** OAuth token lifetimes (seconds). */
  lifetimes?: DevSystemOptions['lifetimes'];
  /** The upstream-token vault's clock. */
  upstream?: DevSystemOptions['upstream'];
  /** More environment (e.g. NOTION_CLIENT_ID); the variables above win. */
  env?: Readonly<Record<string, string>>;
}): Promise<TestDevSystem> {
  const dataDir = mkdtempSync(join(tmpdir(), `${options.dirPrefix ?? 'portcullis-dev'}-`));
  const removeDataDir = () => rmSync(dataDir, { recursive: true, force: true });
  let system: DevSystem;
  try {
    system = await startDevSystem(
      {
        ...options.env,
        PORT: String(options.port ?? 0),
        PORTCULLIS_DATA_DIR: dataDir,
        PORTCULLIS_DEV_EMAIL: options.email,
        PORTCULLIS_DEV_PASSWORD: options.password,
      },
      silentLogger,
      { lifetimes: options.lifetimes, upstream: options.upstream },
    );
  } catch (err) {
    removeDataDir();
    throw err;
  }
  return {
    system,
    dataDir,
    close: async () => {
      await system.close();
      removeDataDir();
    },
  };
}
