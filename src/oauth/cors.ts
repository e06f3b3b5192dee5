/**
 * CORS for the authorization server's discovery, registration and error answers: any origin,
 * no credentials, since nothing there is ambient (tokens travel in headers and bodies). The
 * token and revocation endpoints get theirs from oidc-provider (`clientBasedCORS`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Headers } from '../core/respond.js';

/** What a browser-based MCP client (MCP Inspector) sends besides the CORS-safelisted ones. */
const CORS_ALLOW_HEADERS = 'authorization, content-type, mcp-protocol-version';

/** The headers that let any origin read the answer. */
export function corsHeaders(req: IncomingMessage): Headers {
  return { 'access-control-allow-origin': req.headers.origin ?? '*', vary: 'Origin' };
}

/** Sets them on a response another component (oidc-provider) will write. */
export function allowAnyOrigin(req: IncomingMessage, res: ServerResponse): void {
  for (const [name, value] of Object.entries(corsHeaders(req))) res.setHeader(name, value);
}

/** The answer to a CORS preflight (Fetch §3.2.2) for an endpoint taking `methods`. */
export function preflight(req: IncomingMessage, res: ServerResponse, methods: string): void {
  res.writeHead(204, {
    ...corsHeaders(req),
    'access-control-allow-methods': methods,
    'access-control-allow-headers':
      req.headers['access-control-request-headers'] ?? CORS_ALLOW_HEADERS,
    'access-control-max-age': '3600',
  });
  res.end();
}
