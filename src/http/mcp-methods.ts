import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJsonRpcError } from './respond.js';

/**
 * The methods an MCP endpoint answers (MCP 2025-11-25 "Transports", Streamable HTTP): POST
 * carries JSON-RPC, GET opens the server's SSE stream, DELETE ends a session; HEAD is GET
 * without the body (RFC 9110 §9.3.2) and OPTIONS the CORS preflight, answered before this.
 */
const MCP_METHODS = new Set(['POST', 'GET', 'HEAD', 'DELETE', 'OPTIONS']);
const ALLOW = 'GET, HEAD, POST, DELETE, OPTIONS';

/** JSON-RPC 2.0 §5.1: the message is not a valid request. */
const INVALID_REQUEST = -32600;

/**
 * Answers a request no MCP endpoint takes and returns true: a method the transport does not
 * define (405 with Allow, RFC 9110 §15.5.6), or content on a method other than POST (400).
 * Content in a GET or DELETE has no defined meaning (RFC 9110 §9.3.1, §9.3.5); passed on, it
 * would carry JSON-RPC to the upstream that per-call policy never saw (issue 8). Either way
 * the body stays unread, so the connection closes.
 */
export function refuseNonMcpMethod(req: IncomingMessage, res: ServerResponse): boolean {
  const method = req.method ?? '';
  const body = hasContent(req);
  const close: Record<string, string> = body ? { connection: 'close' } : {};
  if (!MCP_METHODS.has(method)) {
    const message = `${method} is not a method of MCP Streamable HTTP`;
    sendJsonRpcError(res, 405, null, INVALID_REQUEST, message, { allow: ALLOW, ...close });
    return true;
  }
  if (method !== 'POST' && body) {
    const message = `a ${method} request to an MCP endpoint carries no body; JSON-RPC is POSTed`;
    sendJsonRpcError(res, 400, null, INVALID_REQUEST, message, close);
    return true;
  }
  return false;
}

/** RFC 9112 §6.3: a request has content when it is chunked or declares a non-zero length. */
function hasContent(req: IncomingMessage): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const length = req.headers['content-length'];
  return length !== undefined && Number(length) !== 0;
}
