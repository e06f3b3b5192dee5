/**
 * The token endpoint (RFC 6749 §3.2), in front of oidc-provider's: rate-limited per client
 * address, size-capped, a code or refresh token whose grant's gateway session is gone is
 * refused with `invalid_grant` (and the grant revoked) before the provider sees it, and
 * `resource` is given in the host's own spelling (`resource-indicator.ts`). Everything else
 * (client authentication, PKCE, the grant itself) is the provider's.
 */
import type { IncomingMessage } from 'node:http';
import { isFormMediaType } from '../core/media-type.js';
import type { OidcProvider } from '../oidc/provider-module.js';
import { InvalidGrant, InvalidRequest } from './errors.js';
import type { GrantSessionCheck } from './grant-session.js';
import type { OAuthEndpoint } from './hosts.js';
import { checkRateLimit, type Limiter } from './rate-limit.js';
import { readRequestBody } from './request-body.js';
import { canonicalResourceParams } from './resource-indicator.js';

/** Token requests are small; a `private_key_jwt` assertion fits many times over. */
export const MAX_TOKEN_REQUEST_BYTES = 64 * 1024;

export interface TokenDeps {
  readonly limiter: Limiter;
  readonly clientIp: (req: IncomingMessage) => string;
  /** The grant's live gateway session, undefined once it is gone (`grantSessionCheck`). */
  readonly grantSession: GrantSessionCheck;
}

/** `/.pomerium/mcp/token` (and `/token`). */
export function tokenEndpoint(deps: TokenDeps): OAuthEndpoint {
  return async (req, res, host, providerUrl) => {
    // Only a POST is a token request; the provider answers anything else.
    if (req.method !== 'POST') return host.oidc.serve(req, res, { url: providerUrl });
    await checkRateLimit(deps.limiter, deps.clientIp(req));
    let body = await readRequestBody(
      req,
      MAX_TOKEN_REQUEST_BYTES,
      (options) => new InvalidRequest('the token request is too large', options),
    );
    if (isFormMediaType(req.headers['content-type'])) {
      const form = new URLSearchParams(body.toString('utf8'));
      await checkGrantSignedIn(host.oidc.provider, form, deps);
      const resources = host.resources.map((r) => r.resource);
      if (canonicalResourceParams(form, resources)) body = Buffer.from(form.toString(), 'utf8');
    }
    return host.oidc.serve(req, res, { url: providerUrl, body });
  };
}

/** A grant dies with the gateway session it was made under (`grant-session.ts`). */
async function checkGrantSignedIn(
  provider: OidcProvider,
  form: URLSearchParams,
  deps: TokenDeps,
): Promise<void> {
  const grantId = await grantOf(provider, form);
  if (grantId !== undefined && (await deps.grantSession(grantId)) === undefined) {
    throw new InvalidGrant('the sign-in this grant was made under has ended; authorize again');
  }
}

/** The grant of the request's code or refresh token; unknown values are the provider's to refuse. */
async function grantOf(provider: OidcProvider, form: URLSearchParams): Promise<string | undefined> {
  const grantType = form.get('grant_type');
  const model =
    grantType === 'refresh_token'
      ? provider.RefreshToken
      : grantType === 'authorization_code'
        ? provider.AuthorizationCode
        : undefined;
  const value = form.get(grantType === 'refresh_token' ? 'refresh_token' : 'code');
  if (model === undefined || !value) return undefined;
  return (await model.find(value).catch(() => undefined))?.grantId;
}
