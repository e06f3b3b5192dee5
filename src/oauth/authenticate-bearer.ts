/**
 * The one bearer check of MCP routes (RFC 6750 §2.1): the `Authorization` header's token,
 * validated for the route's resource, as the gateway session a route's pipeline works with.
 */
import type { IncomingMessage } from 'node:http';
import type { RouteConfig } from '../config/types.js';
import { sha256Hex } from '../core/crypto.js';
import type { SessionRecord } from '../storage/types.js';
import type { BearerUser, BearerValidator } from './bearer.js';
import { isClientModeToken } from './client-mode.js';
import type { ClientNames } from './client-names.js';
import type { HostDirectory } from './hosts.js';

/** What an MCP request's `Authorization` header amounts to. */
export type BearerOutcome =
  | { readonly kind: 'none' }
  | { readonly kind: 'invalid' }
  | {
      readonly kind: 'valid';
      readonly session: SessionRecord;
      readonly clientId: string;
      /** Its registered `client_name`, null when it has none (or registered none with us). */
      readonly clientName: string | null;
      readonly grantId: string;
    };

/** Most requests on a cookie route carry none: one shared answer. */
export const NO_TOKEN: BearerOutcome = Object.freeze({ kind: 'none' });

export interface BearerDeps {
  readonly hosts: HostDirectory;
  readonly validator: BearerValidator;
  readonly now: () => number;
  /** Registered client names (absent: every client is unnamed). */
  readonly names?: ClientNames;
}

/**
 * Checks the bearer token of a request on an `mcp.server` route. Answered without a promise
 * when the validator and the client's name are cached (`BearerValidator.peek`).
 */
export function authenticateBearer(
  deps: BearerDeps,
  req: IncomingMessage,
  route: RouteConfig,
): BearerOutcome | Promise<BearerOutcome> {
  const header = req.headers.authorization;
  if (header === undefined) return NO_TOKEN;
  const token = bearerToken(header);
  const host = deps.hosts.forRoute(route);
  if (token === undefined || host === undefined || route.mcp?.kind !== 'server') {
    return { kind: 'invalid' };
  }
  const audience = route.mcp.resourceUrl;
  const known = deps.validator.peek(token, audience);
  const name = known && (deps.names === undefined ? null : deps.names.peek(known.clientId));
  if (known && name !== undefined) return outcome(known, deps.now(), name);
  return validated(deps, token, audience, host);
}

async function validated(
  deps: BearerDeps,
  token: string,
  audience: string,
  host: NonNullable<ReturnType<HostDirectory['forRoute']>>,
): Promise<BearerOutcome> {
  const user = await deps.validator.validate(token, audience, (t) =>
    host.oidc.provider.AccessToken.find(t),
  );
  return outcome(user, deps.now(), user && (await nameOf(deps.names, user.clientId)));
}

/** Without I/O once known: this is asked on every request with a token. */
async function nameOf(names: ClientNames | undefined, clientId: string): Promise<string | null> {
  if (names === undefined) return null;
  const known = names.peek(clientId);
  return known !== undefined ? known : names.load(clientId);
}

/**
 * Checks the bearer token of a request to the app-facing endpoints (`/.pomerium/mcp/routes`):
 * only a client-mode token is taken there, whatever its audiences (an MCP client's token is
 * for its one server). Tokens of every host share one store, so any host's provider finds it.
 */
export async function authenticateClientModeBearer(
  deps: BearerDeps,
  req: IncomingMessage,
): Promise<BearerOutcome> {
  const header = req.headers.authorization;
  if (header === undefined) return NO_TOKEN;
  const token = bearerToken(header);
  const host = deps.hosts.any();
  if (token === undefined || host === undefined) return { kind: 'invalid' };
  const user = await deps.validator.validate(token, isClientModeToken, (t) =>
    host.oidc.provider.AccessToken.find(t),
  );
  return outcome(user, deps.now(), null);
}

/** RFC 6750 §2.1. */
function bearerToken(header: string): string | undefined {
  return /^Bearer +([^\s]+)$/i.exec(header)?.[1];
}

function outcome(
  user: BearerUser | undefined,
  now: number,
  clientName: string | null | undefined,
): BearerOutcome {
  if (user === undefined) return { kind: 'invalid' };
  const session = grantSession(user, now);
  const { clientId, grantId } = user;
  return { kind: 'valid', clientId, clientName: clientName ?? null, grantId, session };
}

/**
 * Each grant's session id, a hash of its id (stable per grant, so the assertion's `sid` names
 * the client's connection): hashed once, not on every request. Bounded: emptied when full.
 */
const grantIdHashes = new Map<string, string>();
const MAX_GRANT_HASHES = 10_000;

function grantIdHash(grantId: string): string {
  let hash = grantIdHashes.get(grantId);
  if (hash === undefined) {
    if (grantIdHashes.size >= MAX_GRANT_HASHES) grantIdHashes.clear();
    grantIdHashes.set(grantId, (hash = sha256Hex(`grant\0${grantId}`)));
  }
  return hash;
}

/** The token's user as a session record of its own (never stored). */
function grantSession(user: BearerUser, now: number): SessionRecord {
  const { identity } = user;
  return {
    idHash: grantIdHash(user.grantId),
    sub: identity.sub,
    email: identity.email,
    name: identity.name,
    groups: identity.groups,
    claims: identity.claims,
    idpRefreshTokenEnc: null,
    idpIdTokenEnc: null,
    idpExpiresAt: 0,
    createdAt: identity.updatedAt,
    expiresAt: now + 60_000,
  };
}
