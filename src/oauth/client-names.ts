/**
 * The registered `client_name` of an MCP client (RFC 7591 §2), for the audit line. Asked on
 * every request with a bearer token, so kept in memory per client id: a name changes only by a
 * new registration, which gets a new id. Clients of a Client ID Metadata Document are not
 * stored (their id, an https URL, names them already): null.
 */
import type { OAuthClientStore } from '../storage/types.js';

export interface ClientNames {
  /** The name when known already (no I/O), else undefined. */
  peek(clientId: string): string | null | undefined;
  load(clientId: string): Promise<string | null>;
}

/** Names are the client's to choose: the log keeps a line's worth. */
const MAX_NAME = 100;

export function clientNames(clients: OAuthClientStore, maxEntries = 1_000): ClientNames {
  const known = new Map<string, string | null>();
  return {
    peek: (clientId) => known.get(clientId),
    async load(clientId) {
      const metadata = (await clients.get(clientId))?.metadata;
      const given = metadata?.client_name;
      const name =
        typeof given === 'string' && given.trim() !== '' ? given.trim().slice(0, MAX_NAME) : null;
      // Oldest first out: a bound, not an LRU (a map keeps insertion order).
      if (known.size >= maxEntries) known.delete(known.keys().next().value!);
      known.set(clientId, name);
      return name;
    },
  };
}
