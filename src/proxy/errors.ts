/**
 * Errors from talking to an upstream. Each has a stable `code`, the HTTP `status` the client
 * gets, and the underlying socket error as `cause`; the message is safe to show a client (it
 * names no upstream address), the details go to the log.
 */
import type { ServerResponse } from 'node:http';
import { sendJson, sendJsonRpcError } from '../core/respond.js';

export class UpstreamError extends Error {
  constructor(
    readonly code: 'ERR_UPSTREAM_UNAVAILABLE' | 'ERR_UPSTREAM_TIMEOUT' | 'ERR_UPSTREAM_ABORTED',
    readonly status: 502 | 504,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'UpstreamError';
  }
}

/** No upstream of the route could be reached (every attempt failed before a response). */
export class UpstreamUnavailableError extends UpstreamError {
  constructor(
    /** The upstream origins tried, in order. */
    readonly attempts: readonly string[],
    options?: { cause?: unknown },
  ) {
    super('ERR_UPSTREAM_UNAVAILABLE', 502, 'upstream unavailable', options);
    this.name = 'UpstreamUnavailableError';
  }
}

/** The route's timeout or idle timeout expired. */
export class UpstreamTimeoutError extends UpstreamError {
  constructor(
    readonly which: 'connect' | 'response' | 'idle',
    readonly afterMs: number,
  ) {
    super(
      which === 'connect' ? 'ERR_UPSTREAM_UNAVAILABLE' : 'ERR_UPSTREAM_TIMEOUT',
      which === 'connect' ? 502 : 504,
      which === 'connect' ? 'upstream connect timeout' : 'upstream timeout',
    );
    this.name = 'UpstreamTimeoutError';
  }
}

/** The upstream broke the response off after it had started; the client connection is cut. */
export class UpstreamAbortedError extends UpstreamError {
  constructor(options?: { cause?: unknown }) {
    super('ERR_UPSTREAM_ABORTED', 502, 'upstream response aborted', options);
    this.name = 'UpstreamAbortedError';
  }
}

/** The gateway's own answer when no upstream answered (or one failed before its head). */
export function sendUpstreamError(
  res: ServerResponse,
  error: UpstreamError,
  o: { readonly isMcpPost: boolean; readonly jsonRpcErrorId?: string | number | null },
): void {
  if (o.isMcpPost) {
    const id = o.jsonRpcErrorId ?? null;
    sendJsonRpcError(res, error.status, { id, code: -32603, message: error.message });
    return;
  }
  sendJson(res, error.status, {
    error: error.status === 504 ? 'upstream_timeout' : 'upstream_unavailable',
    error_description: error.message,
  });
}
