/**
 * CORS and the 401 of an `mcp.server` route, as answers: browser-based MCP clients read our
 * headers cross-origin, and learn where to get a token from the challenge (RFC 9728 §5.1).
 */
import type { RouteConfig } from '../../config/types.js';
import type { Headers } from '../../core/respond.js';
import { NOT_SIGNED_IN, NOT_SIGNED_IN_REASON } from '../../core/not-signed-in.js';
import { bearerChallenge } from '../../oauth/metadata.js';
import type { Answer } from './answer.js';

/** What browser-based MCP clients may read from our answers (REFERENCE §2). */
const MCP_EXPOSED_HEADERS = 'WWW-Authenticate, Mcp-Session-Id';
const DEFAULT_ALLOW_HEADERS =
  'authorization, content-type, mcp-protocol-version, mcp-session-id, last-event-id';

export function corsHeaders(origin: string | undefined): Headers {
  return {
    'access-control-allow-origin': origin ?? '*',
    'access-control-expose-headers': MCP_EXPOSED_HEADERS,
    vary: 'Origin',
  };
}

/** The answer to a CORS preflight on an `mcp.server` route; it comes before any auth. */
export function preflightAnswer(
  origin: string | undefined,
  requestHeaders: string | undefined,
): Answer {
  return {
    kind: 'empty',
    status: 204,
    headers: {
      ...corsHeaders(origin),
      'access-control-allow-methods': 'GET, POST, DELETE, OPTIONS',
      'access-control-allow-headers': requestHeaders ?? DEFAULT_ALLOW_HEADERS,
      'access-control-max-age': '3600',
    },
  };
}

/** 401 as Pomerium sends it on MCP routes (reason `Unauthorized`, RFC 9728 §5.1 challenge). */
export function unauthorizedAnswer(
  route: RouteConfig,
  origin: string | undefined,
  error?: 'invalid_token',
): Answer {
  const resource = route.mcp?.kind === 'server' ? route.mcp.resourceUrl : route.from;
  return {
    kind: 'json',
    status: 401,
    body: error
      ? {
          error,
          error_description:
            'the access token is invalid, expired, revoked or for another resource',
        }
      : NOT_SIGNED_IN,
    headers: { ...corsHeaders(origin), 'www-authenticate': bearerChallenge(resource, error) },
    statusMessage: NOT_SIGNED_IN_REASON,
  };
}
