/**
 * Discovery documents for MCP clients: RFC 9728 protected resource metadata and the
 * `WWW-Authenticate` challenge that points to it (MCP 2025-11-25 "Authorization" §2.3).
 */

/** The one scope of every MCP server here: what the resource metadata and the 401 name. */
export const MCP_SCOPE = 'mcp';

/**
 * Scopes the authorization server knows. `offline_access` asks for a refresh token; it is a
 * matter between client and authorization server, so the resource does not list it
 * (MCP SEP-2207). Refresh tokens go to clients registered with the `refresh_token` grant.
 */
export const AS_SCOPES = [MCP_SCOPE, 'offline_access'] as const;

export const PRM_PATH = '/.well-known/oauth-protected-resource';

export interface McpResource {
  /** The MCP URL, e.g. `https://db.example.com/sqlite` (RFC 8707 resource indicator). */
  readonly resource: string;
  /** The route's name, shown to users. */
  readonly name: string;
}

/** RFC 9728 §3.2: `…/.well-known/oauth-protected-resource<resource path>`. */
export function resourceMetadataUrl(resource: string): string {
  const url = new URL(resource);
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  return `${url.origin}${PRM_PATH}${path}`;
}

/** RFC 9728 §2: the metadata document of one MCP resource. */
export function protectedResourceMetadata(resource: McpResource, issuer: string) {
  return {
    resource: resource.resource,
    authorization_servers: [issuer],
    resource_name: resource.name,
    bearer_methods_supported: ['header'],
    scopes_supported: [MCP_SCOPE],
  };
}

/**
 * Which resource a metadata request is about: the one whose metadata URL it is (RFC 9728
 * §3.1). The bare form is the URL of a resource at the host's root only: a document served
 * there for a resource under a path would carry a `resource` other than the one the URL was
 * built from, which §3.3 tells clients to discard. Clients that fall back to it (the MCP SDK,
 * after the path-aware URL) never need it here, since every resource's own URL answers.
 */
export function resourceForMetadataPath(
  path: string,
  resources: readonly McpResource[],
): McpResource | undefined {
  if (!path.startsWith(PRM_PATH)) return undefined;
  const rest = path.slice(PRM_PATH.length) === '/' ? '' : path.slice(PRM_PATH.length);
  return resources.find((r) => resourceMetadataUrl(r.resource).endsWith(PRM_PATH + rest));
}

/**
 * RFC 6750 §3 + RFC 9728 §5.1: the challenge of a 401 on an MCP route, with the scope a token
 * needs (MCP 2025-11-25 "Scope Selection Strategy": clients ask for it first). `error` is set
 * when a token was presented and refused (`invalid_token`).
 */
export function bearerChallenge(resource: string, error?: 'invalid_token'): string {
  const parts = [`resource_metadata="${resourceMetadataUrl(resource)}"`, `scope="${MCP_SCOPE}"`];
  if (error) {
    parts.push(`error="${error}"`);
    parts.push(
      'error_description="The access token is invalid, expired, revoked or for another resource"',
    );
  }
  return `Bearer ${parts.join(', ')}`;
}
