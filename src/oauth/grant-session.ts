/**
 * Which gateway session a grant was made under. MCP clients' tokens die with the browser
 * session that consented, as Pomerium's do: signing out (or the session expiring) revokes the
 * grant, its access and refresh tokens, at the next use of any of them.
 *
 * Kept in `OAuthStore` as the model `GrantSession`, keyed by grant id, with the grant's expiry;
 * the payload carries `grantId` so revoking the grant deletes the record too. An MCP client's
 * grant also names whose it is and for what (`GrantOwner`): with `accountId` indexed, the
 * portal finds a person's grants (`authorized-clients.ts`).
 */
import type { OAuthStore, SessionStore } from '../storage/types.js';

export const GRANT_SESSION_MODEL = 'GrantSession';

/** Whose grant it is: the user, and the client as the consent knows it. */
export interface GrantOwner {
  readonly sub: string;
  readonly clientId: string;
  /** `consentClientKey(clientId, redirectUri)`. */
  readonly clientKey: string;
  readonly resource: string;
  readonly redirectUri: string;
  readonly createdAt: number;
}

export async function recordGrantSession(
  oauth: OAuthStore,
  grantId: string,
  idHash: string,
  expiresAt: number,
  owner?: GrantOwner,
): Promise<void> {
  const payload = owner
    ? {
        grantId,
        idHash,
        accountId: owner.sub,
        clientId: owner.clientId,
        clientKey: owner.clientKey,
        resource: owner.resource,
        redirectUri: owner.redirectUri,
        createdAt: owner.createdAt,
      }
    : { grantId, idHash };
  await oauth.upsert(GRANT_SESSION_MODEL, grantId, payload, expiresAt);
}

/** The live gateway session a grant was made under. */
export interface LiveGrantSession {
  readonly idHash: string;
  /** When the session ends by itself: a cached answer must not outlive it. */
  readonly expiresAt: number;
}

/**
 * The live gateway session behind `grantId`, or undefined when the grant has no recorded
 * session or that session is gone (signed out, expired).
 */
export async function liveGrantSession(
  oauth: OAuthStore,
  sessions: Pick<SessionStore, 'get'>,
  grantId: string,
  now: number,
): Promise<LiveGrantSession | undefined> {
  const record = await oauth.find(GRANT_SESSION_MODEL, grantId, now);
  const idHash = record?.payload.idHash;
  if (typeof idHash !== 'string') return undefined;
  const session = await sessions.get(idHash, now);
  return session === undefined ? undefined : { idHash, expiresAt: session.expiresAt };
}

/** The grant-session check (`grantSessionCheck`) as its users take it. */
export type GrantSessionCheck = (grantId: string) => Promise<LiveGrantSession | undefined>;

export interface GrantSessionCheckDeps {
  readonly oauth: OAuthStore;
  readonly sessions: Pick<SessionStore, 'get'>;
  readonly now: () => number;
  readonly logger: { info(obj: object, msg: string): void };
  /** Told when a grant is revoked here, so caches drop its tokens. */
  readonly forgetGrant: (grantId: string) => void;
}

/**
 * The check the bearer validator and the token endpoint share: the grant's live gateway
 * session, or undefined once that session is gone, in which case the grant is revoked now
 * (every token, its session record) rather than at its expiry.
 */
export function grantSessionCheck(deps: GrantSessionCheckDeps): GrantSessionCheck {
  return async (grantId) => {
    const live = await liveGrantSession(deps.oauth, deps.sessions, grantId, deps.now());
    if (live !== undefined) return live;
    await deps.oauth.revokeByGrantId(grantId);
    await deps.oauth.destroy('Grant', grantId);
    deps.forgetGrant(grantId);
    deps.logger.info({ grant_id: grantId }, 'mcp grant revoked: its gateway session ended');
    return undefined;
  };
}
