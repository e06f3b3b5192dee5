/**
 * The storage writes that revoke something announce it on the invalidation bus, here in the
 * storage layer rather than at each caller, so no path (an endpoint, oidc-provider's adapter,
 * a sweep of grants whose session ended, the portal) can forget to. Each event is published
 * after its write succeeded: a process that reloads on the event reads the new state.
 */
import { sha256Hex } from '../core/crypto.js';
import type { InvalidationBus } from './invalidation.js';
import type { Storage } from './types.js';

/**
 * `storage` with `invalidation` set to `bus` and its revoking writes announced on it. Closing
 * the storage is its own affair: a bus it opened (PostgreSQL's listener) it closes itself.
 */
export function publishingStorage(storage: Storage, bus: InvalidationBus): Storage {
  const { oauth, sessions, oauthClients, identities, upstreamTokens } = storage;
  return {
    ...storage,
    invalidation: bus,
    oauth: {
      ...oauth,
      async destroy(model, id) {
        await oauth.destroy(model, id);
        // Only access tokens are cached by value (the bearer check); a grant by its id.
        if (model === 'AccessToken') await bus.publish({ k: 'token', hash: sha256Hex(id) });
        if (model === 'Grant') await bus.publish({ k: 'grant', id });
      },
      async revokeByGrantId(grantId) {
        await oauth.revokeByGrantId(grantId);
        await bus.publish({ k: 'grant', id: grantId });
      },
    },
    sessions: {
      ...sessions,
      async delete(idHash) {
        await sessions.delete(idHash);
        await bus.publish({ k: 'session', idHash });
      },
    },
    oauthClients: {
      ...oauthClients,
      async delete(clientId) {
        await oauthClients.delete(clientId);
        await bus.publish({ k: 'client', id: clientId });
      },
    },
    identities: {
      ...identities,
      async put(identity) {
        await identities.put(identity);
        await bus.publish({ k: 'user', sub: identity.sub });
      },
    },
    upstreamTokens: {
      ...upstreamTokens,
      async put(record) {
        await upstreamTokens.put(record);
        await bus.publish({ k: 'upstream', sub: record.sub, route: record.routeKey });
      },
      // A refresh: other replicas drop the access token they opened before it.
      async replace(record, expectedVersion) {
        const replaced = await upstreamTokens.replace(record, expectedVersion);
        if (replaced) await bus.publish({ k: 'upstream', sub: record.sub, route: record.routeKey });
        return replaced;
      },
      async delete(sub, routeKey, upstreamKey, version) {
        const deleted = await upstreamTokens.delete(sub, routeKey, upstreamKey, version);
        if (deleted) await bus.publish({ k: 'upstream', sub, route: routeKey });
        return deleted;
      },
    },
  };
}
