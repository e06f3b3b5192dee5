/**
 * The path to send the user back to after sign-in: only a same-origin relative path
 * (`/x?y#z`), so the sign-in flow can never become an open redirect. Anything else → `/`.
 * Refused: absolute URLs, scheme-relative `//host`, backslashes (browsers read `/\host` as
 * `//host`), control characters, and paths that resolve outside the origin.
 */
export function safeReturnTo(value: unknown): string {
  if (typeof value !== 'string' || value === '' || value.length > 2048) return '/';
  if (!value.startsWith('/') || value.startsWith('//')) return '/';
  // eslint-disable-next-line no-control-regex
  if (/[\\\u0000-\u001f\u007f]/.test(value)) return '/';
  const base = new URL('http://portcullis.invalid/');
  let resolved: URL;
  try {
    resolved = new URL(value, base);
  } catch {
    return '/';
  }
  if (resolved.origin !== base.origin) return '/';
  return resolved.pathname + resolved.search + resolved.hash;
}

/**
 * The redirect URI registered at the identity provider: `<authenticate_service_url or
 * gateway origin>/oauth2/callback`.
 */
export function callbackUrl(gatewayOrigin: string, authenticateServiceUrl?: string | null): string {
  const base = new URL(authenticateServiceUrl ?? gatewayOrigin);
  return new URL('/oauth2/callback', base.origin).href;
}
