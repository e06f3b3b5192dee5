/**
 * The OAuth errors the authorization server answers itself, before or instead of oidc-provider
 * (which has its own family for the rest). One class per error code: `error` is the RFC's code
 * verbatim, `status` the HTTP status it maps to (an instance may name another one, e.g. 413 for
 * a body too large), `description` is safe to show the client, and `code` is stable for logs and
 * tests. `sendOAuthFailure` is the one serializer.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendOAuthError, type Headers } from '../core/respond.js';
import { corsHeaders } from './cors.js';

export interface OAuthErrorOptions {
  /** The HTTP status, when not the code's usual one. */
  readonly status?: number;
  /** Headers the answer carries (`Retry-After`, `Connection: close`). */
  readonly headers?: Headers;
  readonly cause?: unknown;
}

export abstract class OAuthError extends Error {
  /** The RFC 6749 §5.2 / RFC 7591 §3.2.2 error code. */
  abstract readonly error: string;
  readonly status: number;
  readonly headers: Headers;

  constructor(
    /** For the client: what is wrong with its request, never internals. */
    readonly description: string,
    options: OAuthErrorOptions = {},
  ) {
    super(description, { cause: options.cause });
    this.name = new.target.name;
    this.status = options.status ?? 400;
    this.headers = options.headers ?? {};
  }

  /** `ERR_OAUTH_INVALID_GRANT` for `invalid_grant`. */
  get code(): string {
    return `ERR_OAUTH_${this.error.toUpperCase()}`;
  }
}

/** RFC 6749 §5.2: malformed, or not what this endpoint accepts. */
export class InvalidRequest extends OAuthError {
  readonly error = 'invalid_request';
}

/** RFC 6749 §5.2: the code or refresh token is not (or no longer) good. */
export class InvalidGrant extends OAuthError {
  readonly error = 'invalid_grant';
}

/** RFC 7591 §3.2.2: a registration's metadata is unusable. */
export class InvalidClientMetadata extends OAuthError {
  readonly error = 'invalid_client_metadata';
}

/** RFC 7591 §3.2.2: a registration's redirect URIs break our rules (`redirect-uris.ts`). */
export class InvalidRedirectUri extends OAuthError {
  readonly error = 'invalid_redirect_uri';
}

/** RFC 6749 §4.1.2.1: over a rate limit (answered 429 with `Retry-After`). */
export class TemporarilyUnavailable extends OAuthError {
  readonly error = 'temporarily_unavailable';
  constructor(retryAfterSeconds: number) {
    super('too many requests; try again later', {
      status: 429,
      headers: { 'retry-after': String(retryAfterSeconds) },
    });
  }
}

/**
 * Answers `err` when it is an `OAuthError`: its status, an RFC 6749 §5.2 body, no caching, and
 * CORS as every answer of the authorization server's JSON endpoints. Anything else is thrown on
 * to the edge's one catch (`http/request-handler.ts`), which turns it into a bare
 * `server_error` 500 with the detail only in its log line (with the request id), or drops the
 * connection of a client that hung up (`ClientGone`).
 */
export function sendOAuthFailure(req: IncomingMessage, res: ServerResponse, err: unknown): void {
  if (!(err instanceof OAuthError)) throw err;
  const body = { error: err.error, error_description: err.description };
  sendOAuthError(res, err.status, body, { ...err.headers, ...corsHeaders(req) });
}
