import type { RouteConfig } from '../config/types.js';
import { upstreamBases } from '../proxy/route-urls.js';
import { upstreamUrl } from '../proxy/upstream-url.js';

/**
 * The URL the gateway forwards the route's MCP resource to (its first upstream): the resource
 * the upstream's own OAuth protects, and so the `resource` (RFC 8707) asked for there.
 */
export function upstreamResourceUrl(route: RouteConfig): URL {
  if (route.mcp?.kind !== 'server') throw new TypeError('not an MCP server route');
  const to = upstreamBases(route)[0];
  if (to === undefined) throw new TypeError('a route without upstream');
  const path = new URL(route.mcp.resourceUrl).pathname || '/';
  const { match } = route;
  const prefix = match.kind === 'prefix' ? match.prefix : match.kind === 'path' ? match.path : '/';
  return upstreamUrl(to, path, prefix, route.prefixRewrite);
}
