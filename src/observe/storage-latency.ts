/**
 * The storage reads on the request path, timed for `portcullis_storage_operation_duration_seconds`
 * (`STORAGE_OPS`): the session behind a cookie, the identity behind a bearer token, the token
 * itself (oidc-provider's `find`) and the user's upstream token. Wrapped only when an observer
 * listens; otherwise the storage is used as it is.
 */
import type { Storage } from '../storage/types.js';
import type { Observer } from './observer.js';

export function timedStorage(storage: Storage, observer: Observer): Storage {
  const timed =
    <A extends unknown[], R>(op: string, call: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      const started = performance.now();
      try {
        return await call(...args);
      } finally {
        observer.storageLatency(op, performance.now() - started);
      }
    };
  const { sessions, identities, oauth, upstreamTokens } = storage;
  return {
    ...storage,
    sessions: { ...sessions, get: timed('session_get', sessions.get.bind(sessions)) },
    identities: { ...identities, get: timed('identity_get', identities.get.bind(identities)) },
    oauth: { ...oauth, find: timed('oauth_find', oauth.find.bind(oauth)) },
    upstreamTokens: {
      ...upstreamTokens,
      get: timed('upstream_token_get', upstreamTokens.get.bind(upstreamTokens)),
    },
  };
}
