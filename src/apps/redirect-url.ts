/**
 * `redirect_url` of `/.pomerium/mcp/connect`: where the browser goes back to, so the one thing
 * that must never be an open redirect. Taken only as an absolute `https` URL (`http` only on a
 * loopback host, for development) whose host is one the gateway serves the app or server on:
 * this MCP route's host or an `mcp.client` route's (REFERENCE §2). The raw text is checked
 * before the URL parser sees it, because browsers and parsers disagree on the odd cases
 * (backslashes, missing slashes, whitespace), and a URL that reads differently elsewhere is
 * refused rather than interpreted.
 */

export type RedirectCheck =
  { readonly ok: true; readonly url: URL } | { readonly ok: false; readonly reason: string };

const MAX_LENGTH = 2048;

/**
 * Checks `raw` against the hosts it may name (`URL.host` form: lower case, port only when not
 * the scheme's default).
 */
export function checkRedirectUrl(
  raw: string | null | undefined,
  allowedHosts: ReadonlySet<string>,
): RedirectCheck {
  if (raw === null || raw === undefined || raw === '') {
    return refuse('redirect_url is required');
  }
  if (raw.length > MAX_LENGTH) return refuse(`redirect_url is longer than ${MAX_LENGTH}`);
  // Backslashes read as slashes in browsers (WHATWG URL "special" schemes); control characters
  // and spaces are stripped or kept depending on the parser.
  // eslint-disable-next-line no-control-regex
  if (/[\\\s\u0000-\u001f\u007f]/.test(raw)) {
    return refuse('redirect_url holds a backslash, whitespace or a control character');
  }
  // Absolute, with its authority spelled out: no `//evil`, `https:evil`, `javascript:`.
  if (!/^https?:\/\/[^/]/i.test(raw)) return refuse('redirect_url must be an absolute https URL');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return refuse('redirect_url is not a URL');
  }
  if (url.username !== '' || url.password !== '') {
    return refuse('redirect_url must not carry user information');
  }
  if (url.protocol === 'http:' && !isLoopback(url.hostname)) {
    return refuse('redirect_url must be https (http only on a loopback host)');
  }
  if (!allowedHosts.has(url.host)) {
    return refuse('redirect_url must be on this server’s host or an mcp.client route’s host');
  }
  return { ok: true, url };
}

/** Loopback names and addresses (RFC 6761 §6.3 `localhost`, 127.0.0.0/8, ::1). */
export function isLoopback(hostname: string): boolean {
  const name = hostname.toLowerCase();
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  if (name === '[::1]') return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name);
}

function refuse(reason: string): RedirectCheck {
  return { ok: false, reason };
}
