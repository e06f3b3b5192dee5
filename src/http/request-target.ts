import type { IncomingMessage } from 'node:http';
import { randomUUID } from 'node:crypto';
import { parseHost } from '../proxy/match.js';

/**
 * Settles where a request is for before anything reads it, or returns why it is refused (400).
 * RFC 9112 §3.2: more than one Host field line is an error. RFC 9112 §3.2.2: an absolute-form
 * target's authority is the host and any Host header is ignored (replaced, as a proxy must),
 * so routing, policy and the upstream all see one host; the target is rewritten to the
 * origin-form every later step and the upstream expect. Done on the raw target, not through
 * `URL`, which would resolve dot segments before `requestPath` could refuse them.
 */
export function settleRequestTarget(
  req: IncomingMessage,
  listenerScheme: 'http' | 'https',
): string | undefined {
  if (hostFieldLines(req.rawHeaders) > 1) return 'more than one Host header';
  const target = req.url ?? '';
  if (target.startsWith('/') || target === '*') {
    // RFC 9112 §3.2: a Host with an invalid value is 400, like a second one (node answers a
    // missing one on HTTP/1.1 itself).
    const host = req.headers.host;
    return host === undefined || validAuthority(host) ? undefined : 'malformed Host header';
  }
  const absolute = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)([^#]*)$/i.exec(target);
  if (!absolute) return 'malformed request target';
  const [, scheme = '', authority = '', rest = ''] = absolute;
  if (scheme.toLowerCase() !== listenerScheme) {
    return `a request target with scheme ${scheme} on an ${listenerScheme} listener`;
  }
  if (!validAuthority(authority)) return 'malformed request target host';
  req.headers.host = authority;
  req.url = rest.startsWith('/') ? rest : `/${rest}`;
  return undefined;
}

/**
 * `host [":" port]` of RFC 3986 §3.2.2: reg-name characters (unreserved, pct-encoded,
 * sub-delims) or an IP literal. Userinfo is refused: RFC 9110 §4.2.4 treats it as an error.
 */
function validAuthority(value: string): boolean {
  return /^[\w.~%!$&'()*+,;=:[\]-]+$/.test(value) && parseHost(value) !== undefined;
}

function hostFieldLines(rawHeaders: readonly string[]): number {
  let count = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (name.length === 4 && name.toLowerCase() === 'host') count++;
  }
  return count;
}

/**
 * The path of an origin-form request target, or undefined when it could smuggle past prefix
 * matching: dot segments, encoded slashes or backslashes, NUL, or any other form (absolute-form
 * is rewritten by `settleRequestTarget` first).
 */
export function requestPath(target: string | undefined): string | undefined {
  if (target === undefined || !target.startsWith('/')) return undefined;
  const query = target.indexOf('?');
  const path = query === -1 ? target : target.slice(0, query);
  // Without a dot, a percent sign or a backslash there is nothing to decode or refuse (node's
  // parser has refused control characters already): most paths, every request, end here.
  if (!/[.%\\]/.test(path)) return path;
  if (/%2f|%5c|%00|\\/i.test(path)) return undefined;
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return undefined;
  }
  if (decoded.split('/').some((s) => s === '.' || s === '..')) return undefined;
  return path;
}

/** The client's `X-Request-Id` when it is a plausible id, else a fresh one. */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID();
}
