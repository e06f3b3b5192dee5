/**
 * Step 0 of an `mcp.server` route: the methods an MCP endpoint answers (MCP 2025-11-25
 * "Transports", Streamable HTTP): POST carries JSON-RPC, GET opens the server's SSE stream,
 * DELETE ends a session; HEAD is GET without the body (RFC 9110 §9.3.2) and OPTIONS the CORS
 * preflight, answered before this.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { declaresBody } from '../../core/body.js';
import { INVALID_REQUEST } from '../inspect.js';
import type { Answer } from './answer.js';
import { preflightAnswer } from './cors.js';

const MCP_METHODS = new Set(['POST', 'GET', 'HEAD', 'DELETE', 'OPTIONS']);
const ALLOW = 'GET, HEAD, POST, DELETE, OPTIONS';

/**
 * Step 0, before anything about the caller is asked: the answer to a CORS preflight (a browser
 * sends it without credentials, so it cannot wait for them), the refusal of a method or body
 * no MCP endpoint takes, or undefined to go on.
 */
export function methodAnswer(
  method: string,
  headers: IncomingHttpHeaders,
  origin: string | undefined,
): Answer | undefined {
  if (method === 'OPTIONS') {
    return preflightAnswer(origin, headers['access-control-request-headers']);
  }
  return methodRefusal(method, headers);
}

/**
 * The refusal of a request no MCP endpoint takes, or undefined: a method the transport does not
 * define (405 with Allow, RFC 9110 §15.5.6), or content on a method other than POST (400).
 * Content in a GET or DELETE has no defined meaning (RFC 9110 §9.3.1, §9.3.5); passed on, it
 * would carry JSON-RPC to the upstream that per-call policy never saw (issue 8). Either way the
 * body stays unread, so the connection closes.
 */
function methodRefusal(method: string, headers: IncomingHttpHeaders): Answer | undefined {
  const body = declaresBody(headers);
  const close: Record<string, string> = body ? { connection: 'close' } : {};
  const refuse = (status: number, message: string, extra: Record<string, string> = {}): Answer => ({
    kind: 'json-rpc-error',
    status,
    id: null,
    code: INVALID_REQUEST,
    message,
    headers: { ...extra, ...close },
  });
  if (!MCP_METHODS.has(method)) {
    return refuse(405, `${method} is not a method of MCP Streamable HTTP`, { allow: ALLOW });
  }
  if (method !== 'POST' && body) {
    return refuse(
      400,
      `a ${method} request to an MCP endpoint carries no body; JSON-RPC is POSTed`,
    );
  }
  return undefined;
}
