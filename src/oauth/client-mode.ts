/**
 * Client mode's external token (TE): what an app behind an `mcp.client` route receives on every
 * request, to hand to an LLM API that calls MCP servers through the gateway (REFERENCE §2).
 * Minted by oidc-provider like any other access token (opaque, stored hashed through our
 * adapter, checked by the one bearer validator), with the user's MCP server routes as its
 * audiences: so it works on exactly those routes, and on no other (RFC 8707; Pomerium's TE
 * works everywhere, REFERENCE §3).
 *
 * Each token has a grant of its own, lasting as long as the token, recorded with the gateway
 * session it was minted for (`grant-session.ts`): signing out kills it as it kills an MCP
 * client's. It has no refresh token; the app gets the next one with its next request.
 */
import { identityRecord } from './identity-record.js';
import type { OidcProvider } from '../oidc/provider-module.js';
import type { IdentityStore, OAuthStore, SessionRecord } from '../storage/types.js';
import { recordGrantSession } from './grant-session.js';
import { MCP_SCOPE } from './metadata.js';

/**
 * The client the tokens are issued to. Never registered (no one can authorize as it, or use
 * the token or revocation endpoints with it); not a URL (Client ID Metadata Documents) nor of
 * the shape registered ids have, so no MCP client can share it.
 */
export const CLIENT_MODE_CLIENT_ID = 'portcullis:client-mode';

export interface ClientModeToken {
  readonly token: string;
  readonly grantId: string;
  /** Milliseconds since the epoch. */
  readonly expiresAt: number;
}

export interface ClientModeDeps {
  readonly provider: OidcProvider;
  readonly identities: IdentityStore;
  readonly oauth: OAuthStore;
  /** Seconds. */
  readonly lifetime: number;
  readonly now: () => number;
}

/**
 * The provider that mints client-mode tokens: tokens of every host share one store, so any
 * host's provider mints one valid on all of them.
 */
export function anyHostProvider(hosts: {
  any(): { readonly oidc: { readonly provider: OidcProvider } } | undefined;
}): OidcProvider {
  const host = hosts.any();
  if (host === undefined) throw new Error('no MCP host to mint a client-mode token with');
  return host.oidc.provider;
}

/** Mints a token for `session`'s user valid on the MCP resources `audiences`. */
export async function mintClientModeToken(
  deps: ClientModeDeps,
  session: SessionRecord,
  audiences: readonly string[],
): Promise<ClientModeToken> {
  const { provider, lifetime } = deps;
  const now = deps.now();
  // The identity the bearer check acts as (MCP clients' is saved at consent).
  await deps.identities.put(identityRecord(session, now));
  const grant = new provider.Grant({
    accountId: session.sub,
    clientId: CLIENT_MODE_CLIENT_ID,
    expiresIn: lifetime,
  });
  for (const audience of audiences) grant.addResourceScope(audience, MCP_SCOPE);
  const grantId = await grant.save();
  const expiresAt = now + lifetime * 1000;
  await recordGrantSession(deps.oauth, grantId, session.idHash, expiresAt);
  const token = new provider.AccessToken({
    accountId: session.sub,
    clientId: CLIENT_MODE_CLIENT_ID,
    grantId,
    gty: 'client_mode',
    scope: MCP_SCOPE,
    // Several audiences: set as the stored field, since the provider's setter takes only one.
    aud: [...audiences],
    expiresIn: lifetime,
  });
  return { token: await token.save(), grantId, expiresAt };
}

/** Whether a token was issued to client mode (the app-facing endpoints take only those). */
export function isClientModeToken(token: { readonly clientId: string }): boolean {
  return token.clientId === CLIENT_MODE_CLIENT_ID;
}
