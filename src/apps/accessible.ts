/**
 * Which MCP servers a user may reach: each `mcp.server` route's policy, evaluated for the user
 * with no MCP call (as for a request that is not a JSON-RPC call, `decide.ts`), a POST to the
 * server's URL. What it lists is what the app-facing endpoints show and what a client-mode
 * token is valid on. A route that allows a tool only by `mcp_tool` is not reachable this way:
 * no call is known here, so it is left out, failing closed.
 */
import type { McpServerConfig, RouteConfig } from '../config/types.js';
import type { PolicyInput } from '../policy/evaluate.js';
import { decideRoute } from '../policy/route-policy.js';
import type { SessionRecord } from '../storage/types.js';

/** An `mcp.server` route, with its MCP settings at hand. */
export interface McpServerRoute {
  readonly route: RouteConfig;
  readonly mcp: McpServerConfig;
}

/** Every `mcp.server` route of the config, in config order. */
export function mcpServerRoutes(routes: readonly RouteConfig[]): readonly McpServerRoute[] {
  return routes.flatMap((route) =>
    route.mcp?.kind === 'server' ? [{ route, mcp: route.mcp }] : [],
  );
}

/** The MCP server routes `session`'s user may reach, in config order. */
export function accessibleServers(
  servers: readonly McpServerRoute[],
  session: SessionRecord,
): readonly McpServerRoute[] {
  const user = {
    sub: session.sub,
    email: session.email,
    name: session.name,
    groups: session.groups,
    claims: session.claims,
  };
  return servers.filter(({ route, mcp }) => {
    const input: PolicyInput = {
      user,
      http: { method: 'POST', path: new URL(mcp.resourceUrl).pathname },
      mcp: null,
    };
    return decideRoute(route, input).allow;
  });
}
