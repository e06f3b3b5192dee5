/**
 * The two actions of `/.pomerium/mcp/routes/*` on the user's upstream tokens, per server URL:
 * `refresh` (a refresh now, whatever the expiry; Pomerium's newest release, REFERENCE §10) and
 * `disconnect` (the token deleted, revoked at the provider first when it has a revocation
 * endpoint). Each URL's failure is a message for the app, never a detail of the provider's.
 */
import type { RouteConfig } from '../config/types.js';
import { isObject } from '../core/json.js';
import { isJsonMediaType } from '../core/media-type.js';
import type { SessionRecord } from '../storage/types.js';
import type { ForcedRefresh } from '../upstream/service.js';
import { accessibleServers, type McpServerRoute } from './accessible.js';

export interface ForcedRefreshPort {
  refreshNow(route: RouteConfig, sub: string): Promise<ForcedRefresh>;
  disconnect(route: RouteConfig, sub: string): Promise<boolean>;
}

/** Server URLs one request may name. */
const MAX_ROUTES = 100;

export type RoutesRequest =
  | { readonly ok: true; readonly urls: readonly string[] }
  | { readonly ok: false; readonly description: string };

/** `{"routes": [url, …]}` from a request body, or why it is not one. */
export function parseRoutesRequest(body: Buffer, contentType: string | undefined): RoutesRequest {
  // JSON only: a cross-site form cannot send it without a CORS preflight.
  if (!isJsonMediaType(contentType)) {
    return { ok: false, description: 'the body must be application/json' };
  }
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    return { ok: false, description: 'the body is not valid JSON' };
  }
  const routes = isObject(value) ? value.routes : undefined;
  if (!Array.isArray(routes) || !routes.every((r) => typeof r === 'string')) {
    return { ok: false, description: 'expected {"routes": [server URL, …]}' };
  }
  if (routes.length > MAX_ROUTES) {
    return { ok: false, description: `at most ${MAX_ROUTES} routes at once` };
  }
  return { ok: true, urls: [...new Set(routes as string[])] };
}

const NOT_YOURS = 'not an MCP server you may access';

const REFRESH_ERRORS: Readonly<Record<ForcedRefresh['kind'], string | undefined>> = {
  none: undefined,
  refreshed: undefined,
  missing: 'not connected: connect first',
  'no-refresh-token': 'the provider gave no refresh token: connect again once the token expires',
  refused: 'the provider refused the refresh: connect again',
  unavailable: 'the provider is unavailable: try again later',
};

/** Refreshes each named server's token; the message of each that failed, by URL. */
export async function refreshRoutes(
  upstream: ForcedRefreshPort | undefined,
  servers: readonly McpServerRoute[],
  session: SessionRecord,
  urls: readonly string[],
): Promise<Record<string, string>> {
  const mine = accessibleServers(servers, session);
  const errors = new Map<string, string>();
  await Promise.all(
    urls.map(async (url) => {
      const server = mine.find((s) => s.mcp.resourceUrl === url);
      if (server === undefined) return void errors.set(url, NOT_YOURS);
      const outcome = upstream ? await upstream.refreshNow(server.route, session.sub) : undefined;
      const message = outcome && REFRESH_ERRORS[outcome.kind];
      if (message !== undefined) errors.set(url, message);
    }),
  );
  return byUrl(errors);
}

/**
 * Deletes the user's token of each named server. Any MCP server of the config may be named,
 * also one the policy no longer lets the user reach: the token is the user's to throw away.
 */
export async function disconnectRoutes(
  upstream: ForcedRefreshPort | undefined,
  servers: readonly McpServerRoute[],
  session: SessionRecord,
  urls: readonly string[],
): Promise<Record<string, string>> {
  const errors = new Map<string, string>();
  await Promise.all(
    urls.map(async (url) => {
      const server = servers.find((s) => s.mcp.resourceUrl === url);
      if (server === undefined) return void errors.set(url, 'not an MCP server of this gateway');
      await upstream?.disconnect(server.route, session.sub);
    }),
  );
  return byUrl(errors);
}

/** An object of own keys, whatever the URLs (a key `__proto__` stays a key). */
function byUrl(errors: ReadonlyMap<string, string>): Record<string, string> {
  return Object.fromEntries(errors);
}
