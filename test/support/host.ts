import { pino } from 'pino';
import { startServersHost, type ServersHost } from '../../src/servers/host.js';
import type { ServerFactory } from '../../src/servers/types.js';

/** A silent logger for hosts started by tests. */
export const silentLogger = pino({ level: 'silent' });

/**
 * Starts a servers host on an ephemeral loopback port with a silent logger; `env` adds to
 * (or overrides) `PORT=0`, `HOST=127.0.0.1`.
 */
export function startTestHost(
  factories: readonly ServerFactory[],
  env: Record<string, string> = {},
): Promise<ServersHost> {
  return startServersHost(
    { env: { PORT: '0', HOST: '127.0.0.1', ...env }, logger: silentLogger },
    factories,
  );
}
