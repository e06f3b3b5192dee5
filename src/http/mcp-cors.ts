import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RouteConfig } from '../config/types.js';
import { bearerChallenge } from '../oauth/metadata.js';
import { sendJson } from './respond.js';

/** What browser-based MCP clients may read from our answers (REFERENCE §2). */
const MCP_EXPOSED_HEADERS = 'WWW-Authenticate, Mcp-Session-Id';

export function corsHeaders(origin: string | undefined): Record<string, string> {
  return {
    'access-control-allow-origin': origin ?? '*',
    'access-control-expose-headers': MCP_EXPOSED_HEADERS,
    vary: 'Origin',
  };
}

/** Answers a CORS preflight on an `mcp.server` route; it comes before any auth. */
export function answerPreflight(req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(204, {
    ...corsHeaders(req.headers.origin),
    'access-control-allow-methods': 'GET, POST, DELETE, OPTIONS',
    'access-control-allow-headers':
      req.headers['access-control-request-headers'] ??
      'authorization, content-type, mcp-protocol-version, mcp-session-id, last-event-id',
    'access-control-max-age': '3600',
  });
  res.end();
}

/** 401 as Pomerium sends it on MCP routes (reason `Unauthorized`, RFC 9728 §5.1 challenge). */
export function unauthorized(
  res: ServerResponse,
  route: RouteConfig,
  origin: string | undefined,
  error?: 'invalid_token',
): void {
  const resource = route.mcp?.kind === 'server' ? route.mcp.resourceUrl : route.from;
  sendJson(
    res,
    401,
    error
      ? {
          error,
          error_description:
            'the access token is invalid, expired, revoked or for another resource',
        }
      : { error: 'unauthorized', error_description: 'sign in to use this route' },
    { ...corsHeaders(origin), 'www-authenticate': bearerChallenge(resource, error) },
    'Unauthorized',
  );
}
