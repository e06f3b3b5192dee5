/**
 * Discovery: RFC 9728 protected resource metadata (ours, for each MCP resource of the host) and
 * RFC 8414 authorization server metadata (oidc-provider's, minus `openid`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson } from '../core/respond.js';
import { corsHeaders, preflight } from './cors.js';
import { InvalidRequest } from './errors.js';
import type { Host } from './hosts.js';
import { protectedResourceMetadata, resourceForMetadataPath } from './metadata.js';

/** `/.well-known/oauth-protected-resource[<resource path>]`: public, cached a minute. */
export async function resourceMetadataEndpoint(
  req: IncomingMessage,
  res: ServerResponse,
  host: Host,
  path: string,
): Promise<void> {
  if (req.method === 'OPTIONS') return preflight(req, res, 'GET');
  const resource = resourceForMetadataPath(path, host.resources);
  if (resource === undefined) {
    throw new InvalidRequest('no MCP server at this path', { status: 404 });
  }
  sendJson(res, 200, protectedResourceMetadata(resource, host.issuer), {
    ...corsHeaders(req),
    'cache-control': 'public, max-age=60',
  });
}

/** `/.well-known/oauth-authorization-server` and `/.well-known/openid-configuration`. */
export function serverMetadataEndpoint(
  req: IncomingMessage,
  res: ServerResponse,
  host: Host,
): Promise<void> {
  return host.oidc.serve(req, res);
}
