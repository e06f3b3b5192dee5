/**
 * The one answer to "nobody is signed in" (HTTP 401) wherever the gateway gives it: routes,
 * MCP routes (with their RFC 9728 challenge beside it) and the gateway's own endpoints.
 * Reason phrase `Unauthorized`: clients match on it (REFERENCE §2).
 */
export const NOT_SIGNED_IN = Object.freeze({
  error: 'unauthorized',
  error_description: 'sign in to use this route',
});

export const NOT_SIGNED_IN_REASON = 'Unauthorized';
