/**
 * The body of `GET /.pomerium/mcp/routes`, as Pomerium's newest release sends it (REFERENCE §2,
 * §10): the MCP servers this user may reach, each with its connection to the upstream service
 * it needs. `connected` is true when the user holds every upstream token the server needs
 * (a server that needs none is connected); `token_expires_at` is RFC 3339, absent when the
 * provider gave no lifetime or nothing is held.
 */
import type { RouteConfig } from '../config/types.js';
import type { SessionRecord } from '../storage/types.js';
import type { ServerConnection } from '../upstream/service.js';
import { accessibleServers, type McpServerRoute } from './accessible.js';

export interface ServerEntry {
  readonly name: string;
  readonly description?: string;
  readonly logo_url?: string;
  readonly url: string;
  readonly connected: boolean;
  readonly needs_oauth: boolean;
  readonly token_expires_at?: string;
  readonly refresh_token_available: boolean;
}

/** What the app-facing endpoints ask of the upstream-token part (`UpstreamService`). */
export interface UpstreamConnections {
  connection(route: RouteConfig, sub: string): Promise<ServerConnection>;
}

const NO_UPSTREAM: ServerConnection = {
  needsOauth: false,
  connected: true,
  expiresAt: null,
  refreshTokenAvailable: false,
};

/** The servers `session`'s user may reach, in config order, with their connection state. */
export async function serverList(
  servers: readonly McpServerRoute[],
  upstream: UpstreamConnections | undefined,
  session: SessionRecord,
): Promise<ServerEntry[]> {
  return Promise.all(
    accessibleServers(servers, session).map(async (server) => {
      const connection = upstream
        ? await upstream.connection(server.route, session.sub)
        : NO_UPSTREAM;
      return serverEntry(server, connection);
    }),
  );
}

export function serverEntry(
  { route, mcp }: McpServerRoute,
  connection: ServerConnection,
): ServerEntry {
  return {
    name: route.name ?? mcp.resourceUrl,
    ...(route.description ? { description: route.description } : {}),
    ...(route.logoUrl ? { logo_url: route.logoUrl } : {}),
    url: mcp.resourceUrl,
    connected: connection.connected,
    needs_oauth: connection.needsOauth,
    ...(connection.expiresAt === null
      ? {}
      : { token_expires_at: new Date(connection.expiresAt).toISOString() }),
    refresh_token_available: connection.refreshTokenAvailable,
  };
}
