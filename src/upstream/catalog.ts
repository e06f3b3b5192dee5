/**
 * Which routes hold upstream tokens, and with which upstream client: built once from the
 * config. A route's tokens are stored under its `id` where it has one, else its MCP resource
 * URL; its callback is on its own host (`/.pomerium/mcp/client/oauth/callback`).
 */
import type { RouteConfig } from '../config/types.js';
import {
  staticUpstreamClient,
  type ClientOptions,
  type UpstreamOAuthClient,
} from './oauth-client.js';
import type { TokenKey } from './vault.js';

export const CALLBACK_PATH = '/.pomerium/mcp/client/oauth/callback';
/** Older Pomerium releases registered this one at providers: it keeps working. */
export const LEGACY_CALLBACK_PATH = '/.pomerium/mcp/oauth/callback';

export interface RouteUpstream {
  readonly route: RouteConfig;
  readonly routeKey: string;
  /** The route's MCP resource URL. */
  readonly resource: string;
  readonly client: UpstreamOAuthClient;
  /** The gateway's callback for this route, as registered at the provider. */
  readonly redirectUri: string;
}

export class UpstreamCatalog {
  private readonly byRoute = new Map<RouteConfig, RouteUpstream>();
  private readonly byResource = new Map<string, RouteUpstream>();

  constructor(routes: readonly RouteConfig[], options: ClientOptions = {}) {
    for (const route of routes) {
      const upstream = route.mcp?.kind === 'server' ? route.mcp.upstreamOauth2 : null;
      if (route.mcp?.kind !== 'server' || !upstream?.endpoint) continue;
      const entry: RouteUpstream = {
        route,
        routeKey: route.id ?? route.mcp.resourceUrl,
        resource: route.mcp.resourceUrl,
        client: staticUpstreamClient(upstream, upstream.endpoint, options),
        redirectUri: new URL(CALLBACK_PATH, route.from).href,
      };
      this.byRoute.set(route, entry);
      this.byResource.set(entry.resource, entry);
    }
  }

  get size(): number {
    return this.byRoute.size;
  }

  forRoute(route: RouteConfig): RouteUpstream | undefined {
    return this.byRoute.get(route);
  }

  forResource(resource: string): RouteUpstream | undefined {
    return this.byResource.get(resource);
  }

  /** The entry a stored authorization names, when the route still has that upstream. */
  find(routeKey: string, upstreamKey: string): RouteUpstream | undefined {
    for (const entry of this.byRoute.values()) {
      if (entry.routeKey === routeKey && entry.client.upstreamKey === upstreamKey) return entry;
    }
    return undefined;
  }

  all(): readonly RouteUpstream[] {
    return [...this.byRoute.values()];
  }
}

export function tokenKey(entry: RouteUpstream, sub: string): TokenKey {
  return { sub, routeKey: entry.routeKey, upstream: entry.client };
}
