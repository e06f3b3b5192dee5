/**
 * The one answer to "storage is unreachable right now" (the database restarting, say), in every
 * shape the gateway speaks: HTTP 503 with `Retry-After` (RFC 9110 §15.6.4, §10.2.3) and no
 * caching, so clients retry on their own instead of treating it as a failure of their request.
 * The writers are `http/unavailable.ts` (node:http), `oauth/provider.ts` (oidc-provider's own
 * answers) and `session/errors.ts` (the sign-in error page).
 */

export const STORAGE_UNAVAILABLE_STATUS = 503;

/** Seconds a client should wait: a database restart or failover takes a few. */
export const STORAGE_RETRY_AFTER_SECONDS = 2;

export const STORAGE_UNAVAILABLE_HEADERS = Object.freeze({
  'retry-after': String(STORAGE_RETRY_AFTER_SECONDS),
  'cache-control': 'no-store',
});

/** For the client and the user: what happened and what to do, no internals. */
export const STORAGE_UNAVAILABLE_MESSAGE =
  'The gateway cannot reach its storage right now. Try again in a few seconds.';

/** RFC 6749 §4.1.2.1 `temporarily_unavailable`, used by the JSON endpoints too. */
export const STORAGE_UNAVAILABLE_OAUTH = Object.freeze({
  error: 'temporarily_unavailable',
  error_description: STORAGE_UNAVAILABLE_MESSAGE,
});

/**
 * JSON-RPC 2.0 §5.1 leaves -32000 to -32099 to the server. -32001 is the MCP SDK's
 * `RequestTimeout`: to a client, a request that did not complete, not one that was refused.
 */
export const STORAGE_UNAVAILABLE_JSONRPC_CODE = -32001;

export const STORAGE_UNAVAILABLE_TITLE = 'Temporarily unavailable';
