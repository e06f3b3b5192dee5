/**
 * The authorization request as oidc-provider is given it, and the checks we add to its
 * pipeline. oidc-provider is an OpenID Provider; this server is an OAuth 2.1 authorization
 * server for MCP resources whose consent step (`interactions.ts`) runs on every request. Three
 * OIDC defaults do not fit that and are adjusted at the edge, before the provider parses the
 * request:
 *
 * - no `scope` → `mcp` (RFC 6749 §3.3: the server's default scope); without it the provider
 *   grants nothing and answers `access_denied` after the user allowed.
 * - `prompt=none` → no `prompt`, plus `SILENT_PARAM`: the provider's own login session never
 *   stands in for the gateway's (a signed-out user must be asked again), so on its own it
 *   would answer `login_required` even to a signed-in, consenting user. The interaction
 *   answers a silent request itself, without a page (OIDC Core §3.1.2.6).
 * - `offline_access` without `consent` in `prompt` → `consent` added: the provider drops
 *   `offline_access` otherwise (OIDC Core §11), the code's scope lacks it and a client that
 *   repeats its original scope on refresh (the Codex CLI) gets `invalid_scope`. What §11
 *   guards, the user agreeing to offline access, holds here: every request passes the consent
 *   step, and remembered consent covers `offline_access` only when it was allowed with it.
 */
import type { ProviderContext } from '../oidc/provider-module.js';

/** Marks a `prompt=none` request for the interaction; only the edge sets it. */
export const SILENT_PARAM = 'portcullis_prompt_none';

/** Parameters this function reads; a request repeating one is left for the provider to refuse. */
const SINGLE = ['scope', 'prompt', SILENT_PARAM] as const;

/**
 * Adjusts an authorization request's parameters, a GET's query or a POST's form alike, in
 * place (see above); false, untouched, when one of them repeats.
 */
export function rewriteAuthorizationParams(params: URLSearchParams): boolean {
  // RFC 6749 §3.1: parameters must not repeat; oidc-provider answers that, unchanged by us.
  if (SINGLE.some((name) => params.getAll(name).length > 1)) return false;
  params.delete(SILENT_PARAM);
  if (!params.get('scope')) params.set('scope', 'mcp');
  const scopes = (params.get('scope') ?? '').split(' ');
  const prompts = new Set((params.get('prompt') ?? '').split(' ').filter(Boolean));
  // `none` with another value is invalid (OIDC Core §3.1.2.1): the provider refuses it.
  if (prompts.size === 1 && prompts.has('none')) {
    prompts.delete('none');
    params.set(SILENT_PARAM, '1');
  }
  if (scopes.includes('offline_access') && !prompts.has('none')) prompts.add('consent');
  if (prompts.size > 0) params.set('prompt', [...prompts].join(' '));
  else params.delete('prompt');
  return true;
}

/** True when the interaction must answer without a page (the request had `prompt=none`). */
export function isSilent(params: Readonly<Record<string, unknown>>): boolean {
  return params[SILENT_PARAM] === '1';
}

export interface AuthorizationChecks {
  readonly InvalidScope: new (description: string, scope: string) => Error;
  readonly InvalidRequest: new (description: string) => Error;
  readonly InvalidTarget: new (description: string) => Error;
}

/**
 * Our checks on every authorization request, run by oidc-provider as the validator of
 * `SILENT_PARAM` (its `extraParams` validators run on every request, after the client, the
 * redirect URI and PKCE are checked, so their errors go back to the client's redirect URI).
 */
export function authorizationParamsValidator(errors: AuthorizationChecks) {
  return (ctx: ProviderContext, value: unknown): void => {
    if (value !== undefined && value !== '1') {
      throw new errors.InvalidRequest(`${SILENT_PARAM} is not a client parameter`);
    }
    const scope = ctx.oidc.params?.scope;
    // No ID tokens: MCP authorization (2025-11-25) is OAuth 2.1 and its clients need an access
    // token for one MCP server, nothing that asserts the user's identity to the client. The
    // provider cannot drop `openid` from its scopes, and granting it would issue ID tokens.
    if (typeof scope === 'string' && scope.split(' ').includes('openid')) {
      throw new errors.InvalidScope(
        'openid is not supported: this server issues access tokens for MCP servers, not ID tokens',
        'openid',
      );
    }
    // RFC 8707 §2: without `resource` a host with several MCP servers cannot tell which one
    // is meant (one with a single server has it filled in by `defaultResource` already). The
    // client is told now, at its redirect URI, rather than the user after signing in.
    const resource = ctx.oidc.params?.resource;
    if (!resource || (Array.isArray(resource) && resource.length === 0)) {
      throw new errors.InvalidTarget(
        'resource is required: this host serves several MCP servers; name one of them',
      );
    }
  };
}

/** oidc-provider's discovery minus `openid`, which it always lists (see above). */
export function discoveryWithoutOpenId(ctx: ProviderContext): void {
  const body = ctx.body as { scopes_supported?: unknown } | undefined;
  if (body && Array.isArray(body.scopes_supported)) {
    body.scopes_supported = body.scopes_supported.filter((s) => s !== 'openid');
  }
}
