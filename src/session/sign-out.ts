/**
 * Who may end a session: only a POST the browser sent from the gateway's own pages. A
 * cross-site form or a top-level GET would otherwise sign people out at will (login CSRF's
 * twin), so the request's `Origin` must be this host (RFC 6454 §7, Fetch §3.1); when the
 * browser sends no usable Origin (`null` under `Referrer-Policy: no-referrer`, as our pages set),
 * `Sec-Fetch-Site: same-origin` (Fetch Metadata) must vouch for it. Neither: refused.
 */
import type { IncomingMessage } from 'node:http';

export function sameOriginPost(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== 'null') return originIsHost(origin, req.headers.host);
  return req.headers['sec-fetch-site'] === 'same-origin';
}

/** The Origin names the host this request was sent to (scheme http or https, port included). */
function originIsHost(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return false;
  // `new URL` drops a default port; so does this normalisation of the Host header.
  let expected: URL;
  try {
    expected = new URL(`${url.protocol}//${host}`);
  } catch {
    return false;
  }
  return url.host === expected.host;
}
