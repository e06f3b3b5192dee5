import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { readFileSync } from 'node:fs';
import type { Config } from '../config/types.js';
import { parseHost } from '../proxy/match.js';

/** Binds the configured address (HTTPS when the config has a certificate). */
export async function listen(
  config: Config,
  scheme: 'http' | 'https',
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<Server> {
  const server =
    scheme === 'https' && config.tls
      ? createHttpsServer(
          {
            cert: readFileSync(config.tls.certificateFile),
            key: readFileSync(config.tls.certificateKeyFile),
            keepAliveTimeout: 65_000,
          },
          handler,
        )
      : createHttpServer({ keepAliveTimeout: 65_000 }, handler);
  // MCP streams live long: no request timeout at the edge (the routes decide).
  server.requestTimeout = 0;
  const host =
    config.address.host === ''
      ? undefined
      : (parseHost(config.address.host)?.hostname ?? config.address.host);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.address.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

/** Stops accepting, closes idle connections now and any still open after 10 s. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), 10_000).unref();
  });
}
