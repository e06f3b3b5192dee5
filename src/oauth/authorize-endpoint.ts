/**
 * The authorization endpoint (RFC 6749 §3.1): oidc-provider's, given the request as
 * `authorization-request.ts` adjusts a GET's query (default scope, `prompt=none`,
 * `offline_access`). The consent step it sends the user to is `interactions.ts`.
 */
import { rewriteAuthorizationRequest } from './authorization-request.js';
import type { OAuthEndpoint } from './hosts.js';

/** `/.pomerium/mcp/authorize` (and `/authorize`). */
export const authorizeEndpoint: OAuthEndpoint = (req, res, host, providerUrl) => {
  const url =
    req.method === 'GET' ? rewriteAuthorizationRequest(providerUrl ?? req.url ?? '/') : providerUrl;
  return host.oidc.serve(req, res, { url });
};
