import type { ServerResponse } from 'node:http';

/**
 * The error writers of the codebase, one argument order for all: the response, the status,
 * the body, extra headers. Each sends a whole response with its length and no caching, and
 * cuts the connection instead when a response already started (nothing else can be said).
 */

export type Headers = Readonly<Record<string, string>>;

/** A JSON body as the whole response; `statusMessage` for clients that match on it. */
export function sendJson(
  res: ServerResponse,
  status: number,
  value: unknown,
  headers: Headers = {},
  statusMessage?: string,
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify(value);
  if (statusMessage) res.statusMessage = statusMessage;
  res.writeHead(status, {
    'cache-control': 'no-store',
    ...headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

export interface JsonRpcErrorBody {
  /** The request's id when it could be read, else null (JSON-RPC 2.0 §5). */
  readonly id: string | number | null;
  readonly code: number;
  readonly message: string;
}

/** A JSON-RPC error response as the whole HTTP response. */
export function sendJsonRpcError(
  res: ServerResponse,
  status: number,
  error: JsonRpcErrorBody,
  headers: Headers = {},
): void {
  const { id, code, message } = error;
  sendJson(res, status, { jsonrpc: '2.0', id, error: { code, message } }, headers);
}

export interface OAuthErrorBody {
  /** An RFC 6749 §5.2 / RFC 7591 §3.2.2 / RFC 6750 §3.1 error code. */
  readonly error: string;
  /** Safe to show the client: never internals. */
  readonly error_description?: string;
}

/** An OAuth error response (RFC 6749 §5.2) as the whole HTTP response. */
export function sendOAuthError(
  res: ServerResponse,
  status: number,
  error: OAuthErrorBody,
  headers: Headers = {},
): void {
  sendJson(res, status, error, headers);
}
