/** The node:http writer of the "storage unavailable" answer (`core/unavailable.ts`). */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { acceptsHtml } from '../core/media-type.js';
import { sendJsonRpcError, sendOAuthError } from '../core/respond.js';
import {
  STORAGE_UNAVAILABLE_HEADERS,
  STORAGE_UNAVAILABLE_JSONRPC_CODE,
  STORAGE_UNAVAILABLE_MESSAGE,
  STORAGE_UNAVAILABLE_OAUTH,
  STORAGE_UNAVAILABLE_STATUS,
} from '../core/unavailable.js';
import { corsHeaders as mcpCorsHeaders } from '../mcp/pipeline/cors.js';
import { corsHeaders as oauthCorsHeaders } from '../oauth/cors.js';
import { sendUnavailablePage } from '../web/unavailable-page.js';

/**
 * What kind of answer a request expects: `mcp` a JSON-RPC error (MCP routes), `oauth` an
 * RFC 6749 §5.2 body (the authorization servers), `page` a page when a browser asks for one
 * (else the same JSON body as `oauth`).
 */
export type AnswerShape = 'mcp' | 'oauth' | 'page';

/** 503 with `Retry-After`, in the shape the request expects, readable cross-origin. */
export function sendStorageUnavailable(
  req: IncomingMessage,
  res: ServerResponse,
  shape: AnswerShape,
): void {
  const status = STORAGE_UNAVAILABLE_STATUS;
  if (shape === 'mcp') {
    const headers = { ...STORAGE_UNAVAILABLE_HEADERS, ...mcpCorsHeaders(req.headers.origin) };
    // The body may not have been read: the request's id is unknown (JSON-RPC 2.0 §5).
    const error = { id: null, code: STORAGE_UNAVAILABLE_JSONRPC_CODE };
    return sendJsonRpcError(
      res,
      status,
      { ...error, message: STORAGE_UNAVAILABLE_MESSAGE },
      headers,
    );
  }
  // A browser at the authorization endpoint gets a page, as oidc-provider's own errors do.
  const browser = acceptsHtml(req.headers.accept) && (shape === 'page' || req.method === 'GET');
  if (browser) return sendUnavailablePage(res);
  const cors = shape === 'oauth' ? oauthCorsHeaders(req) : {};
  sendOAuthError(res, status, STORAGE_UNAVAILABLE_OAUTH, {
    ...STORAGE_UNAVAILABLE_HEADERS,
    ...cors,
  });
}
