/**
 * Who may end a session: only a POST the browser sent from the gateway's own pages. A
 * cross-site form or a top-level GET would otherwise sign people out at will (login CSRF's
 * twin), so the request's `Origin` must be this host (RFC 6454 §7, Fetch §3.1); when the
 * browser sends no usable Origin (`null` under `Referrer-Policy: no-referrer`, as our pages set),
 * `Sec-Fetch-Site: same-origin` (Fetch Metadata) must vouch for it. Neither: refused.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { renderError } from '../web/error-page.js';
import { sendPage } from '../web/respond.js';
import { renderSignOutConfirm } from '../web/signout-page.js';

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

/** The confirmation page; its POST may redirect to the provider's `endSession` (CSP form-action). */
export function sendSignOutConfirm(res: ServerResponse, endSession: URL | undefined): void {
  sendPage(res, 200, renderSignOutConfirm(), {
    formActions: endSession ? [endSession.origin] : [],
  });
}

/** A sign-out that did not come from the gateway's own page. */
export function sendSignOutRefused(res: ServerResponse): void {
  sendPage(
    res,
    403,
    renderError({
      title: 'Sign-out refused',
      message: 'This sign-out did not come from this site. Sign out from the page instead.',
      retryHref: '/.pomerium/sign_out',
    }),
  );
}
