import type { ServerFactory } from './types.js';
import { createNotionServer } from './notion/server.js';
import { createSqliteServer } from './sqlite/server.js';
import { createWhoamiServer } from './whoami/server.js';

/** The servers the host runs, in mount order. */
export const defaultServerFactories: readonly ServerFactory[] = [
  createSqliteServer,
  createWhoamiServer,
  createNotionServer,
];
