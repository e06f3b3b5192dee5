import type { IncomingMessage, ServerResponse } from 'node:http';

/** The cookies of a request (RFC 6265 §5.4); the first of duplicate names wins. */
export function parseCookies(req: IncomingMessage): Map<string, string> {
  const cookies = new Map<string, string>();
  const header = req.headers.cookie;
  if (!header) return cookies;
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq < 0) continue;
    const name = pair.slice(0, eq).trim();
    let value = pair.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) {
      value = value.slice(1, -1);
    }
    if (name !== '' && !cookies.has(name)) cookies.set(name, value);
  }
  return cookies;
}

export interface CookieOptions {
  /** Seconds; 0 deletes the cookie. Absent: a browser-session cookie. */
  readonly maxAge?: number;
  readonly secure: boolean;
}

/**
 * A `Set-Cookie` value with the attributes every cookie of ours carries: HttpOnly,
 * SameSite=Lax (sent on top-level navigations back from the identity provider), Path=/,
 * no Domain (host-only; required by the `__Host-` prefix, RFC 6265bis §4.1.3.2).
 */
export function serializeCookie(name: string, value: string, options: CookieOptions): string {
  const parts = [`${name}=${value}`, 'Path=/', 'HttpOnly', 'SameSite=Lax'];
  if (options.secure) parts.push('Secure');
  if (options.maxAge !== undefined) {
    parts.push(`Max-Age=${Math.max(0, Math.floor(options.maxAge))}`);
    if (options.maxAge <= 0) parts.push('Expires=Thu, 01 Jan 1970 00:00:00 GMT');
  }
  return parts.join('; ');
}

/** Adds a `Set-Cookie` header without dropping ones set earlier on the response. */
export function appendSetCookie(res: ServerResponse, cookie: string): void {
  const prev = res.getHeader('set-cookie');
  const list = prev === undefined ? [] : Array.isArray(prev) ? prev : [String(prev)];
  res.setHeader('set-cookie', [...list, cookie]);
}

/** `__Host-` prefixed when the cookie is Secure (the prefix demands Secure, Path=/, no Domain). */
export function cookieName(base: string, secure: boolean): string {
  return secure ? `__Host-${base}` : base;
}
