/**
 * The authorization endpoint (RFC 6749 §3.1): oidc-provider's, given the request as
 * `authorization-request.ts` adjusts a GET's query (default scope, `prompt=none`,
 * `offline_access`) and with its `resource` in the host's own spelling
 * (`resource-indicator.ts`). The consent step it sends the user to is `interactions.ts`.
 */
import { rewriteAuthorizationRequest } from './authorization-request.js';
import type { Host, OAuthEndpoint } from './hosts.js';
import { withCanonicalResources } from './resource-indicator.js';

/** `/.pomerium/mcp/authorize` (and `/authorize`). */
export const authorizeEndpoint: OAuthEndpoint = (req, res, host, providerUrl) => {
  const url =
    req.method === 'GET' ? providerQuery(providerUrl ?? req.url ?? '/', host) : providerUrl;
  return host.oidc.serve(req, res, { url });
};

function providerQuery(pathAndQuery: string, host: Host): string {
  return withCanonicalResources(
    rewriteAuthorizationRequest(pathAndQuery),
    host.resources.map((r) => r.resource),
  );
}
