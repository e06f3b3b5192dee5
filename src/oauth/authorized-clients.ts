/**
 * The MCP clients a person authorized, as the portal lists them, and their revocation. A client
 * here is what a consent is about: one client_id at one redirect URI (`consentClientKey`), so
 * two installs of one public client that share a registration are told apart by where their
 * codes go, and revoking one leaves the other alone.
 *
 * Two sources share that key: the remembered consents (`ConsentStore.listBySub`) and the grants
 * made under them (`GrantSession` records naming the user, `grant-session.ts`). Either alone
 * lists a client: a consent outlives the grants a sign-out ended (the client gets back in
 * without asking), and a grant outlives a consent forgotten some other way. `GrantUse` records,
 * one per grant rewritten at each token issued, tell when the client last got a token.
 *
 * Revoking deletes the consents first, so a client that races to authorize again meets the
 * consent page, then revokes every grant: its access and refresh tokens stop working at once.
 */
import type {
  ConsentRecord,
  ConsentStore,
  OAuthClientStore,
  OAuthStore,
  SessionStore,
} from '../storage/types.js';
import { GRANT_SESSION_MODEL } from './grant-session.js';

export const GRANT_USE_MODEL = 'GrantUse';

export interface AuthorizedClient {
  /** The consent key: what `revokeClient` takes. */
  readonly key: string;
  readonly name: string;
  /** Null for a consent given before client_ids were kept with it. */
  readonly clientId: string | null;
  /** The host its codes go to (a metadata-document client: its document's host). */
  readonly host: string | null;
  /** The MCP resource URLs it may use. */
  readonly resources: readonly string[];
  /** When the person last allowed it (a consent, or a grant made under a remembered one). */
  readonly authorizedAt: number;
  /** When it last got a token (null: not since this was recorded). */
  readonly lastUsedAt: number | null;
  /** Whether a grant of it is live: its tokens work now (else it only gets back in unasked). */
  readonly active: boolean;
}

export interface AuthorizedClientsDeps {
  readonly oauth: OAuthStore;
  readonly consents: ConsentStore;
  readonly clients: Pick<OAuthClientStore, 'get'>;
  readonly sessions: Pick<SessionStore, 'get'>;
  readonly now: () => number;
}

/** A grant's use: a token was issued under it at `at`. Lives as long as the grant. */
export async function recordGrantUse(
  oauth: OAuthStore,
  grant: {
    readonly grantId: string;
    readonly accountId: string;
    readonly expiresAt: number | null;
  },
  at: number,
): Promise<void> {
  const payload = { grantId: grant.grantId, accountId: grant.accountId, at };
  await oauth.upsert(GRANT_USE_MODEL, grant.grantId, payload, grant.expiresAt);
}

/** One of the user's grants, as its `GrantSession` record names it. */
interface OwnedGrant {
  readonly grantId: string;
  readonly idHash: string;
  readonly clientId: string;
  readonly clientKey: string;
  readonly resource: string;
  readonly redirectUri: string;
  readonly createdAt: number;
}

/** The MCP clients `sub` authorized, the most recently authorized first. */
export async function authorizedClients(
  deps: AuthorizedClientsDeps,
  sub: string,
): Promise<AuthorizedClient[]> {
  const now = deps.now();
  const [consents, grants, uses] = await Promise.all([
    deps.consents.listBySub(sub),
    ownedGrants(deps.oauth, sub, now),
    deps.oauth.listByAccountId(GRANT_USE_MODEL, sub, now),
  ]);
  const usedAt = new Map<string, number>();
  for (const { payload } of uses) {
    if (typeof payload.grantId === 'string' && typeof payload.at === 'number') {
      usedAt.set(payload.grantId, payload.at);
    }
  }
  // Grants share a few sessions: each is looked up once.
  const idHashes = [...new Set(grants.map((g) => g.idHash))];
  const found = await Promise.all(idHashes.map((idHash) => deps.sessions.get(idHash, now)));
  const live = new Set(idHashes.filter((_, i) => found[i] !== undefined));
  const keys = new Set([...consents.map((c) => c.clientKey), ...grants.map((g) => g.clientKey)]);
  const listed = await Promise.all(
    [...keys].map((key) =>
      describeClient(deps, key, {
        consents: consents.filter((c) => c.clientKey === key),
        grants: grants.filter((g) => g.clientKey === key),
        usedAt,
        live,
      }),
    ),
  );
  return listed.sort((a, b) => b.authorizedAt - a.authorizedAt || (a.key < b.key ? -1 : 1));
}

/** One client from what is known of it: at least one consent or one grant. */
async function describeClient(
  deps: AuthorizedClientsDeps,
  key: string,
  known: {
    readonly consents: readonly ConsentRecord[];
    /** Newest first. */
    readonly grants: readonly OwnedGrant[];
    readonly usedAt: ReadonlyMap<string, number>;
    /** The `idHash`es of live gateway sessions. */
    readonly live: ReadonlySet<string>;
  },
): Promise<AuthorizedClient> {
  const { consents, grants } = known;
  const clientId = grants[0]?.clientId ?? consents.find((c) => c.clientId)?.clientId ?? null;
  const redirectUri =
    grants[0]?.redirectUri ?? consents.find((c) => c.redirectUri)?.redirectUri ?? null;
  const uses = grants.flatMap((g) => known.usedAt.get(g.grantId) ?? []);
  return {
    key,
    name: consents[0]?.clientName ?? (await registeredName(deps, clientId)),
    clientId,
    host: clientHost(clientId, redirectUri),
    resources: [...new Set([...consents, ...grants].map((x) => x.resource))],
    authorizedAt: Math.max(...consents.map((c) => c.grantedAt), ...grants.map((g) => g.createdAt)),
    lastUsedAt: uses.length > 0 ? Math.max(...uses) : null,
    active: grants.some((g) => known.live.has(g.idHash)),
  };
}

/**
 * Revokes what `sub` allowed the client `key`: its consents, then its grants through
 * `revokeGrant` (which must drop every cache of their tokens). Returns whether there was any.
 */
export async function revokeClient(
  deps: AuthorizedClientsDeps & { revokeGrant(grantId: string): Promise<void> },
  sub: string,
  key: string,
): Promise<{ readonly consents: number; readonly grants: readonly OwnedGrant[] }> {
  const now = deps.now();
  const consents = (await deps.consents.listBySub(sub)).filter((c) => c.clientKey === key);
  for (const c of consents) await deps.consents.delete(sub, c.resource, c.clientKey);
  const grants = (await ownedGrants(deps.oauth, sub, now)).filter((g) => g.clientKey === key);
  for (const { grantId } of grants) {
    await deps.revokeGrant(grantId);
    await deps.oauth.destroy('Grant', grantId);
  }
  return { consents: consents.length, grants };
}

/** The user's grants that name their client, newest first. */
async function ownedGrants(oauth: OAuthStore, sub: string, now: number): Promise<OwnedGrant[]> {
  const records = await oauth.listByAccountId(GRANT_SESSION_MODEL, sub, now);
  return records
    .flatMap(({ payload }) => ownedGrant(payload) ?? [])
    .sort((a, b) => b.createdAt - a.createdAt);
}

/** A `GrantSession` payload that names its client (those of client mode's tokens do not). */
function ownedGrant(p: Readonly<Record<string, unknown>>): OwnedGrant | undefined {
  const text = ['grantId', 'idHash', 'clientId', 'clientKey', 'resource', 'redirectUri'];
  if (!text.every((field) => typeof p[field] === 'string') || typeof p.createdAt !== 'number') {
    return undefined;
  }
  return p as unknown as OwnedGrant;
}

async function registeredName(deps: AuthorizedClientsDeps, clientId: string | null) {
  const name = clientId === null ? undefined : (await deps.clients.get(clientId))?.metadata;
  const given = typeof name?.client_name === 'string' ? name.client_name.trim() : '';
  return given || 'An unnamed MCP client';
}

/** As the consent page names it: a metadata document's host, else the redirect URI's. */
function clientHost(clientId: string | null, redirectUri: string | null): string | null {
  for (const candidate of [clientId?.startsWith('https://') ? clientId : null, redirectUri]) {
    if (candidate === null || candidate === undefined) continue;
    try {
      const url = new URL(candidate);
      return url.host || url.protocol;
    } catch {
      continue;
    }
  }
  return null;
}
