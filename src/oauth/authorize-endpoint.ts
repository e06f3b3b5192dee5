/**
 * The authorization endpoint (RFC 6749 §3.1): oidc-provider's, given the request as
 * `authorization-request.ts` adjusts its parameters (default scope, `prompt=none`,
 * `offline_access`) and with its `resource` in the host's own spelling
 * (`resource-indicator.ts`). The consent step it sends the user to is `interactions.ts`.
 *
 * A POST carries the same parameters as a form (OIDC Core §3.1.2.1; RFC 6749 §3.1 allows it)
 * and is served as the GET with those parameters, so both go through the same adjustments and
 * checks and get the same errors. oidc-provider's own POST route stays off: it requires its
 * session cookie to be `SameSite=None`, and that session stands for nothing here (the
 * interaction asks the gateway's session every time), so nothing is lost without it.
 */
import type { ServerResponse } from 'node:http';
import { readForm, type FormError } from '../oidc/form.js';
import { renderError } from '../web/error-page.js';
import { sendPage } from '../web/respond.js';
import { rewriteAuthorizationParams } from './authorization-request.js';
import type { Host, OAuthEndpoint } from './hosts.js';
import { canonicalResourceParams } from './resource-indicator.js';

/** oidc-provider's own limit for a request body (`lib/shared/selective_body.js`). */
export const MAX_AUTHORIZATION_FORM_BYTES = 56 * 1024;

/** `/.pomerium/mcp/authorize` (and `/authorize`). */
export const authorizeEndpoint: OAuthEndpoint = async (req, res, host, providerUrl) => {
  const url = new URL(providerUrl ?? req.url ?? '/', 'http://unused');
  if (req.method === 'GET') {
    return host.oidc.serve(req, res, {
      url: providerRequest(url.pathname, url.searchParams, host),
    });
  }
  // Anything else is the provider's to refuse.
  if (req.method !== 'POST') return host.oidc.serve(req, res, { url: providerUrl });
  // The form's parameters only: a POST's query is not part of its request (OIDC Core §3.1.2.1).
  const form = await readForm(req, (err) => refuse(res, err), MAX_AUTHORIZATION_FORM_BYTES);
  if (form === undefined) return;
  const target = providerRequest(url.pathname, form, host);
  return host.oidc.serve(req, res, { method: 'GET', url: target });
};

/** The path and query oidc-provider is to serve for a request with `params`. */
function providerRequest(path: string, params: URLSearchParams, host: Host): string {
  rewriteAuthorizationParams(params);
  canonicalResourceParams(
    params,
    host.resources.map((r) => r.resource),
  );
  const query = params.toString();
  return query === '' ? path : `${path}?${query}`;
}

/**
 * A POST whose parameters cannot be read: a page, as for any request refused before its client
 * and redirect URI are checked (nothing goes to a redirect URI not yet known good).
 */
function refuse(res: ServerResponse, err: FormError): void {
  const message =
    err.status === 415
      ? 'An authorization request sent by POST must be a form (application/x-www-form-urlencoded).'
      : 'The authorization request is too large.';
  sendPage(res, err.status, renderError({ title: 'Authorization failed', message }), {
    headers: err.headers,
  });
}
