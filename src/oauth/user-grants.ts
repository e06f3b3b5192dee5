/**
 * What a person may do with the MCP clients they authorized (the portal's list and its revoke
 * button), and revoking one grant: the revocation drops the grant from this process's bearer
 * cache at once; other replicas hear it on the invalidation bus (`storage/publishing.ts`).
 */
import type { SessionLogger } from '../session/manager.js';
import type { Storage } from '../storage/types.js';
import { authorizedClients, revokeClient, type AuthorizedClient } from './authorized-clients.js';
import type { BearerValidator } from './bearer.js';

export interface UserGrants {
  /** Revokes a grant: its access and refresh tokens stop working at once. */
  revokeGrant(grantId: string): Promise<void>;
  /** The MCP clients `sub` authorized (`authorized-clients.ts`), most recent first. */
  authorizedClients(sub: string): Promise<AuthorizedClient[]>;
  /**
   * Revokes the client `key` (`AuthorizedClient.key`) of `sub`: its consents are forgotten and
   * its grants revoked. False when `sub` authorized no such client.
   */
  revokeClient(sub: string, key: string): Promise<boolean>;
}

/** Revocation, and the clients a person authorized (the portal's). */
export function userGrants(
  options: {
    readonly storage: Pick<Storage, 'oauth' | 'consents' | 'oauthClients' | 'sessions'>;
    readonly logger: SessionLogger;
  },
  validator: BearerValidator,
  now: () => number,
): UserGrants {
  const { storage, logger } = options;
  const revokeGrant = async (grantId: string) => {
    await storage.oauth.revokeByGrantId(grantId);
    validator.forgetGrant(grantId);
  };
  const deps = {
    oauth: storage.oauth,
    consents: storage.consents,
    clients: storage.oauthClients,
    sessions: storage.sessions,
    now,
  };
  return {
    revokeGrant,
    authorizedClients: (sub) => authorizedClients(deps, sub),
    async revokeClient(sub, key) {
      const revoked = await revokeClient({ ...deps, revokeGrant }, sub, key);
      if (revoked.consents === 0 && revoked.grants.length === 0) return false;
      const clients = [...new Set(revoked.grants.map((g) => g.clientId))];
      logger.info(
        { sub, client_id: clients, grants: revoked.grants.length, consents: revoked.consents },
        'mcp client revoked by its user',
      );
      return true;
    },
  };
}
