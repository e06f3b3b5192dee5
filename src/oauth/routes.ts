/**
 * Which of the authorization server's endpoints a request names: a pure lookup on the path
 * (and, for the bare aliases, the route the request matched), no I/O. Endpoints live at
 * Pomerium's paths under `/.pomerium/mcp/`; discovery at the RFC 8414 / RFC 9728 well-known
 * paths.
 */
import type { RouteMatch } from '../proxy/match.js';
import { PRM_PATH } from './metadata.js';

export const MCP_PATH_PREFIX = '/.pomerium/mcp';
export const OAUTH_ROUTES = {
  authorization: `${MCP_PATH_PREFIX}/authorize`,
  token: `${MCP_PATH_PREFIX}/token`,
  registration: `${MCP_PATH_PREFIX}/register`,
  revocation: `${MCP_PATH_PREFIX}/revoke`,
  jwks: `${MCP_PATH_PREFIX}/jwks`,
} as const;
export const INTERACTION_PREFIX = `${MCP_PATH_PREFIX}/interaction/`;

/** RFC 8414 §3 and its OpenID Connect Discovery twin, both served (clients try either). */
const SERVER_METADATA = new Set([
  '/.well-known/oauth-authorization-server',
  '/.well-known/openid-configuration',
]);
/** Claude.ai builds these from the MCP origin instead of reading the metadata. */
const ALIASES: ReadonlyMap<string, string> = new Map([
  ['/authorize', OAUTH_ROUTES.authorization],
  ['/token', OAUTH_ROUTES.token],
  ['/register', OAUTH_ROUTES.registration],
]);
/** Served by oidc-provider with no check of ours in front (revocation, keys). */
const PROVIDER_ONLY = new Set<string>([OAUTH_ROUTES.revocation, OAUTH_ROUTES.jwks]);
/** oidc-provider's interaction uids (nanoid), bounded. */
const UID = /^[\w-]{1,64}$/;

export type OAuthRoute =
  | { readonly endpoint: 'resource-metadata' | 'server-metadata' }
  | { readonly endpoint: 'interaction'; readonly uid: string }
  | {
      readonly endpoint: 'register' | 'token' | 'authorize' | 'provider';
      /** oidc-provider's path for it, when the request used an alias. */
      readonly aliasOf: string | undefined;
    };

/** The endpoint `path` names on an MCP host, or undefined when the path is not the server's. */
export function oauthRoute(path: string, match: RouteMatch | undefined): OAuthRoute | undefined {
  if (path === PRM_PATH || path.startsWith(`${PRM_PATH}/`))
    return { endpoint: 'resource-metadata' };
  if (SERVER_METADATA.has(path)) return { endpoint: 'server-metadata' };
  if (path.startsWith(INTERACTION_PREFIX)) {
    const uid = path.slice(INTERACTION_PREFIX.length);
    return UID.test(uid) ? { endpoint: 'interaction', uid } : undefined;
  }
  const aliasOf = ALIASES.get(path);
  // A route of its own on the MCP host keeps the bare path, unless it is the MCP route.
  if (aliasOf !== undefined && match !== undefined && match.route.mcp?.kind !== 'server') {
    return undefined;
  }
  const target = aliasOf ?? path;
  if (target === OAUTH_ROUTES.registration) return { endpoint: 'register', aliasOf };
  if (target === OAUTH_ROUTES.token) return { endpoint: 'token', aliasOf };
  if (target === OAUTH_ROUTES.authorization) return { endpoint: 'authorize', aliasOf };
  // `…/authorize/<uid>`: oidc-provider resuming an authorization after its interaction.
  if (PROVIDER_ONLY.has(target) || target.startsWith(`${OAUTH_ROUTES.authorization}/`)) {
    return { endpoint: 'provider', aliasOf };
  }
  return undefined;
}

/** The path and query oidc-provider is to see for an aliased request (undefined: its own). */
export function providerUrl(requestUrl: string | undefined, aliasOf: string | undefined) {
  if (aliasOf === undefined) return undefined;
  const url = requestUrl ?? '/';
  const query = url.indexOf('?');
  return aliasOf + (query === -1 ? '' : url.slice(query));
}
