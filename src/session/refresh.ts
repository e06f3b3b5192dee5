/**
 * Refresh of the identity provider's tokens behind a session, single-flight per session in
 * this process. The refresh token and the ID token are sealed with keys derived from
 * `shared_secret` and bound to their session row through the AAD, so they cannot be moved to
 * another session.
 */
import * as client from 'openid-client';
import { CryptoError, deriveKey, open, seal } from '../core/crypto.js';
import type { SessionRecord, SessionStore } from '../storage/types.js';
import { identityFromClaims } from './identity.js';
import { IdpResponseError, type IdpTokens, type OidcRelyingParty } from './oidc.js';

/** The subset of a pino logger the session modules use. */
export interface SessionLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface RefresherDeps {
  readonly sessions: SessionStore;
  readonly idp: OidcRelyingParty;
  readonly sharedSecret: string;
  readonly now: () => number;
  readonly logger: SessionLogger;
  /** Provider token life assumed when the token response gives no `expires_in`. */
  readonly defaultIdpTtlMs: number;
}

export class SessionRefresher {
  private readonly refreshKey: Buffer;
  private readonly idTokenKey: Buffer;
  private readonly inflight = new Map<string, Promise<SessionRecord | undefined>>();

  constructor(private readonly deps: RefresherDeps) {
    this.refreshKey = deriveKey(deps.sharedSecret, 'idp-refresh-token');
    this.idTokenKey = deriveKey(deps.sharedSecret, 'idp-id-token');
  }

  /** One refresh per session at a time: concurrent requests share its outcome. */
  refreshOnce(record: SessionRecord): Promise<SessionRecord | undefined> {
    let pending = this.inflight.get(record.idHash);
    if (pending === undefined) {
      pending = this.refresh(record).finally(() => this.inflight.delete(record.idHash));
      this.inflight.set(record.idHash, pending);
    }
    return pending;
  }

  private async refresh(record: SessionRecord): Promise<SessionRecord | undefined> {
    const { sessions } = this.deps;
    const log = this.deps.logger;
    let tokens: IdpTokens;
    try {
      const refreshToken = open(this.refreshKey, record.idpRefreshTokenEnc ?? '', record.idHash);
      tokens = await this.deps.idp.refresh(refreshToken, record.sub);
    } catch (err) {
      const now = this.deps.now();
      // A refusal by the provider ends the session; an outage is tolerated until the tokens expire.
      if (isTransient(err) && now < record.idpExpiresAt) {
        log.warn({ err, sub: record.sub }, 'session refresh failed; retrying later');
        return record;
      }
      log.info({ err, sub: record.sub }, 'session ended: the identity provider refused refresh');
      await sessions.delete(record.idHash);
      return undefined;
    }
    // Signed out while the provider answered: do not bring the session back.
    if ((await sessions.get(record.idHash, this.deps.now())) === undefined) return undefined;
    const now = this.deps.now();
    const claims = tokens.claims ?? record.claims;
    const updated: SessionRecord = {
      ...record,
      ...identityFromClaims(claims),
      claims,
      idpRefreshTokenEnc:
        tokens.refreshToken === null
          ? record.idpRefreshTokenEnc
          : this.sealRefreshToken(tokens.refreshToken, record.idHash),
      // The newest ID token is the best id_token_hint (OIDC Core §12.2 allows none on refresh).
      idpIdTokenEnc:
        tokens.idToken === null
          ? record.idpIdTokenEnc
          : this.sealIdToken(tokens.idToken, record.idHash),
      idpExpiresAt: this.idpExpiry(now, tokens, record.expiresAt),
    };
    await sessions.put(updated);
    log.debug({ sub: record.sub }, 'session refreshed');
    return updated;
  }

  /** When the provider's tokens must be refreshed; never after the session itself ends. */
  idpExpiry(now: number, tokens: IdpTokens, sessionEnd: number): number {
    if (tokens.refreshToken === null && tokens.expiresIn === undefined) return sessionEnd;
    const ttl =
      tokens.expiresIn === undefined ? this.deps.defaultIdpTtlMs : tokens.expiresIn * 1000;
    return Math.min(now + ttl, sessionEnd);
  }

  /** The provider's refresh token behind `record`; undefined when it has none (or it is not ours). */
  openRefreshToken(record: SessionRecord): string | undefined {
    if (record.idpRefreshTokenEnc === null) return undefined;
    try {
      return open(this.refreshKey, record.idpRefreshTokenEnc, record.idHash);
    } catch {
      return undefined;
    }
  }

  sealRefreshToken(token: string | null, idHash: string): string | null {
    // The AAD ties the ciphertext to its session row: it cannot be moved to another one.
    return token === null ? null : seal(this.refreshKey, token, idHash);
  }

  /** The provider's ID token behind `record`; undefined when it has none (or it is not ours). */
  openIdToken(record: SessionRecord): string | undefined {
    if (record.idpIdTokenEnc === null) return undefined;
    try {
      return open(this.idTokenKey, record.idpIdTokenEnc, record.idHash);
    } catch {
      return undefined;
    }
  }

  sealIdToken(token: string | null, idHash: string): string | null {
    return token === null ? null : seal(this.idTokenKey, token, idHash);
  }
}

/** An OAuth error response or a failed check is final; anything else may pass. */
function isTransient(err: unknown): boolean {
  if (err instanceof client.ResponseBodyError) return err.status >= 500;
  if (err instanceof client.ClientError) {
    return (
      err.code === 'OAUTH_RESPONSE_IS_NOT_CONFORM' || err.code === 'OAUTH_RESPONSE_IS_NOT_JSON'
    );
  }
  return !(err instanceof IdpResponseError || err instanceof CryptoError);
}
