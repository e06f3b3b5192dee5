/**
 * Sign-out at the identity provider, once the gateway's own session is gone. The built-in
 * provider ends its login session in-process. An external one has the session's refresh token
 * revoked (RFC 7009 §2.1), so a copy of it cannot mint tokens after sign-out, and the browser is
 * sent to its `end_session_endpoint` with `id_token_hint` (OIDC RP-Initiated Logout 1.0 §2).
 * The revocation is best effort and bounded by the relying party's revocation timeout: a slow or
 * failing provider costs a warning, never the sign-out.
 */
import type { SessionRecord } from '../storage/types.js';
import type { OidcRelyingParty } from './oidc.js';
import type { SessionLogger, SessionRefresher } from './refresh.js';

export interface ProviderLogoutDeps {
  readonly idp: OidcRelyingParty;
  readonly refresher: SessionRefresher;
  readonly logger: SessionLogger;
  /** Where the provider sends the user after logging out. */
  readonly postLogoutRedirectUri: string;
  /** The built-in provider's own sign-out (`SessionManagerOptions.endProviderSession`). */
  readonly endProviderSession: ((refreshToken: string) => Promise<boolean>) | undefined;
}

export class ProviderLogout {
  constructor(private readonly deps: ProviderLogoutDeps) {}

  /**
   * Ends the provider's side of `record` (already deleted from storage); returns where to send
   * the browser next, undefined when nowhere (the provider's session already ended, or it has
   * no end-session endpoint).
   */
  async signOut(record: SessionRecord | undefined): Promise<URL | undefined> {
    const refreshToken = record && this.deps.refresher.openRefreshToken(record);
    if (this.deps.endProviderSession !== undefined) {
      if (refreshToken !== undefined && (await this.endBuiltIn(refreshToken))) return undefined;
    } else if (refreshToken !== undefined) {
      await this.revoke(refreshToken, record?.sub);
    }
    const idTokenHint = record && this.deps.refresher.openIdToken(record);
    return this.endSessionUrl(idTokenHint);
  }

  /** The provider's end-session URL, when it has one; with `id_token_hint` when given. */
  async endSessionUrl(idTokenHint?: string): Promise<URL | undefined> {
    try {
      return await this.deps.idp.endSessionUrl({
        postLogoutRedirectUri: this.deps.postLogoutRedirectUri,
        idTokenHint,
      });
    } catch (err) {
      this.deps.logger.warn({ err }, 'sign-out: provider logout URL unavailable');
      return undefined;
    }
  }

  private async endBuiltIn(refreshToken: string): Promise<boolean> {
    try {
      return await (this.deps.endProviderSession?.(refreshToken) ?? false);
    } catch (err) {
      this.deps.logger.warn({ err }, 'sign-out: the provider session could not be ended here');
      return false;
    }
  }

  private async revoke(refreshToken: string, sub: string | undefined): Promise<void> {
    try {
      if (await this.deps.idp.revokeRefreshToken(refreshToken)) {
        this.deps.logger.debug({ sub }, 'sign-out: refresh token revoked at the provider');
      }
    } catch (err) {
      this.deps.logger.warn(
        { err, sub },
        'sign-out: the provider did not revoke the refresh token (sign-out goes on)',
      );
    }
  }
}
