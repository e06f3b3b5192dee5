/**
 * Which redirect URIs an MCP client may register (OAuth 2.1 §7.5.1 / RFC 8252 §7, MCP
 * 2025-11-25 "Authorization" §Security: redirect URIs must be localhost or https).
 *
 * - `https:` anywhere;
 * - `http:` only on a loopback address (RFC 8252 §7.3; the port may vary at authorization);
 * - a private-use scheme (RFC 8252 §7.1, e.g. `cursor://anysphere.cursor-mcp/oauth/callback`),
 *   except schemes that run or embed content (`javascript:`, `data:`, …).
 * Fragments and credentials in the URI are refused everywhere.
 */
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
const FORBIDDEN_SCHEMES = new Set([
  'javascript:',
  'vbscript:',
  'data:',
  'blob:',
  'file:',
  'about:',
  'filesystem:',
  'ws:',
  'wss:',
  'ftp:',
]);
const SCHEME = /^[a-z][a-z0-9+.-]*:$/;

export type RedirectUriCheck = { ok: true } | { ok: false; reason: string };

export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname.toLowerCase());
}

/** Checks one redirect URI against the rules above. */
export function checkRedirectUri(value: unknown): RedirectUriCheck {
  if (typeof value !== 'string' || value === '' || value.length > 2000) {
    return { ok: false, reason: 'redirect URIs must be non-empty strings' };
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0020\u007f\\]/.test(value)) {
    return {
      ok: false,
      reason: 'redirect URIs must not contain spaces, control characters or backslashes',
    };
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return { ok: false, reason: 'redirect URIs must be absolute URIs' };
  }
  if (value.includes('#')) return { ok: false, reason: 'redirect URIs must not have a fragment' };
  if (url.username !== '' || url.password !== '') {
    return { ok: false, reason: 'redirect URIs must not carry credentials' };
  }
  const scheme = url.protocol.toLowerCase();
  if (scheme === 'https:') {
    return url.hostname === ''
      ? { ok: false, reason: 'https redirect URIs need a host' }
      : { ok: true };
  }
  if (scheme === 'http:') {
    return isLoopbackHost(url.hostname)
      ? { ok: true }
      : { ok: false, reason: 'http redirect URIs are allowed on loopback addresses only' };
  }
  if (FORBIDDEN_SCHEMES.has(scheme) || !SCHEME.test(scheme)) {
    return {
      ok: false,
      reason: `the ${scheme.slice(0, -1)} scheme is not allowed for redirect URIs`,
    };
  }
  return { ok: true };
}

/** The first refused URI of a registration's `redirect_uris`, or undefined when all pass. */
export function checkRedirectUris(values: unknown): string | undefined {
  if (!Array.isArray(values) || values.length === 0)
    return 'redirect_uris must be a non-empty array';
  if (values.length > 20) return 'at most 20 redirect_uris';
  for (const value of values) {
    const check = checkRedirectUri(value);
    if (!check.ok) return check.reason;
  }
  return undefined;
}

/**
 * The CSP `form-action` source that lets a consent form's redirect chain reach `redirectUri`
 * (browsers apply form-action to redirects after a form post).
 */
export function formActionSource(redirectUri: string): string | undefined {
  let url: URL;
  try {
    url = new URL(redirectUri);
  } catch {
    return undefined;
  }
  if (url.protocol === 'https:') return url.origin;
  // RFC 8252 §7.3: the port of a loopback redirect may differ from the registered one.
  if (url.protocol === 'http:') return `http://${url.hostname}:*`;
  return SCHEME.test(url.protocol) ? url.protocol : undefined;
}
