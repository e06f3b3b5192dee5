/**
 * Signing out of the gateway ends the built-in provider's login session as well: RP-initiated
 * logout (OpenID Connect RP-Initiated Logout 1.0), done in-process. Sent to the provider's
 * `end_session_endpoint` instead, the browser would be asked to confirm a second time (the
 * gateway keeps no ID token for `id_token_hint`, and without one the OP must ask, §2), and a
 * user who closed that page stayed signed in at the provider: the next sign-in went through
 * without the password. The gateway has asked already (its sign-out is a same-origin POST) and
 * the provider is part of it, so the login session the gateway's refresh token was issued under
 * ends here, with the grant behind that token (what the provider's own confirmation does to the
 * session and its clients' grants, `lib/actions/end_session.js`). Through the token, not the
 * provider's cookie: a sign-out on another route host does not carry that cookie.
 */
import type { OidcProvider } from '../oidc/provider-module.js';
import type { OAuthStore } from '../storage/types.js';

/**
 * Ends the login session and the grant `refreshToken` (the gateway's, from this provider)
 * belongs to; true when a login session was found and ended.
 */
export async function endLoginSession(
  provider: OidcProvider,
  oauth: Pick<OAuthStore, 'revokeByGrantId' | 'destroy'>,
  refreshToken: string,
): Promise<boolean> {
  const token = await provider.RefreshToken.find(refreshToken);
  if (token === undefined) return false;
  const session =
    token.sessionUid === undefined ? undefined : await provider.Session.findByUid(token.sessionUid);
  await session?.destroy();
  await oauth.revokeByGrantId(token.grantId);
  await oauth.destroy('Grant', token.grantId);
  return session !== undefined;
}
