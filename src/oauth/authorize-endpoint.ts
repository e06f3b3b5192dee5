/**
 * The authorization endpoint (RFC 6749 §3.1): oidc-provider's, given the request as
 * `authorization-request.ts` adjusts a GET's query (default scope, `prompt=none`,
 * `offline_access`). The consent step it sends the user to is `interactions.ts`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { rewriteAuthorizationRequest } from './authorization-request.js';
import type { Host } from './hosts.js';

/** `/.pomerium/mcp/authorize` (and `/authorize`). */
export function authorizeEndpoint(
  req: IncomingMessage,
  res: ServerResponse,
  host: Host,
  providerUrl: string | undefined,
): Promise<void> {
  const url =
    req.method === 'GET' ? rewriteAuthorizationRequest(providerUrl ?? req.url ?? '/') : providerUrl;
  return host.oidc.serve(req, res, { url });
}
