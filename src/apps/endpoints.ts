/**
 * The app-facing endpoints (REFERENCE §2) as the gateway's dispatch mounts them, by exact
 * path on every host: the server list, refresh and disconnect (`routes-endpoint.ts`), and
 * connect (`connect-endpoint.ts`, answered only on MCP server hosts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { mcpServerRoutes } from './accessible.js';
import type { AppDeps } from './caller.js';
import { CONNECT_PATH, connectEndpoint } from './connect-endpoint.js';
import { AppOrigins } from './origins.js';
import { routesEndpoints } from './routes-endpoint.js';

export type { AppDeps, AppUpstream } from './caller.js';

export function appEndpoints(
  deps: AppDeps,
): readonly (readonly [string, (req: IncomingMessage, res: ServerResponse) => Promise<void>])[] {
  const ctx = {
    deps,
    origins: new AppOrigins(deps.routes, deps.scheme),
    servers: mcpServerRoutes(deps.routes),
  };
  return [...routesEndpoints(ctx), [CONNECT_PATH, connectEndpoint(ctx)]];
}
