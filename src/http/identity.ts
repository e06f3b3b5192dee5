import type { IncomingMessage } from 'node:http';
import type { Config, RouteConfig } from '../config/types.js';
import { sha256Hex } from '../core/crypto.js';
import { fromUrl } from '../proxy/route-urls.js';
import type { AssertionSigner } from '../assertion/sign.js';
import {
  cacheTrusted,
  type InvalidationBus,
  type InvalidationEvent,
} from '../storage/invalidation.js';
import type { IdentityStore, SessionRecord, SessionStore } from '../storage/types.js';

/** How long one signed assertion is reused for the same session and route host. */
const ASSERTION_REUSE_MS = 60_000;
const ASSERTION_CACHE_MAX = 10_000;

/**
 * `X-Pomerium-Jwt-Assertion` for this user on this route. Signing is the costliest step of a
 * proxied request, so one token is reused for a minute per (session, identity version, route
 * host); it lives five minutes, so every reuse still has four minutes left. A session ended or
 * a user changed on any replica (the invalidation bus) drops its tokens; while the bus is
 * unhealthy every request is signed afresh.
 */
export function createAssertionSource(
  signer: AssertionSigner,
  config: Config,
  now = Date.now,
  invalidation?: InvalidationBus,
) {
  const cache = new Map<string, { token: string; sub: string; until: number }>();
  invalidation?.subscribe((event) => dropAssertions(cache, event));
  return async function assertionFor(route: RouteConfig, session: SessionRecord): Promise<string> {
    const host = fromUrl(route).hostname;
    // idpExpiresAt changes whenever the provider's claims are refreshed, so new groups show.
    const key = `${session.idHash}\0${session.idpExpiresAt}\0${host}`;
    const t = now();
    const trusted = cacheTrusted(invalidation);
    const hit = trusted ? cache.get(key) : undefined;
    if (hit && hit.until > t) return hit.token;
    const token = await sign(signer, host, session, config);
    if (!trusted) return token;
    if (cache.size >= ASSERTION_CACHE_MAX) cache.delete(cache.keys().next().value!);
    cache.set(key, { token, sub: session.sub, until: t + ASSERTION_REUSE_MS });
    return token;
  };
}

function dropAssertions(cache: Map<string, { sub: string }>, event: InvalidationEvent): void {
  if (event.k === 'all') return cache.clear();
  for (const [key, entry] of cache) {
    if (
      (event.k === 'session' && key.startsWith(`${event.idHash}\0`)) ||
      (event.k === 'user' && entry.sub === event.sub)
    ) {
      cache.delete(key);
    }
  }
}

function sign(
  signer: AssertionSigner,
  host: string,
  session: SessionRecord,
  config: Config,
): Promise<string> {
  const extraClaims: Record<string, unknown> = {};
  for (const claim of Object.values(config.jwtClaimsHeaders)) {
    if (claim in session.claims) extraClaims[claim] = session.claims[claim];
  }
  return signer.sign({
    issuer: host,
    audience: host,
    sub: session.sub,
    email: session.email,
    name: session.name,
    groups: session.groups,
    // The session's id in storage is a hash already; hash again so the claim reveals nothing.
    sid: sha256Hex(session.idHash).slice(0, 32),
    extraClaims,
  });
}

/**
 * Session writes also refresh the user's identity for OAuth clients (`IdentityStore`): every
 * sign-in and every refresh of the provider's claims, so token requests see current groups.
 */
export function rememberingIdentities(
  sessions: SessionStore,
  identities: IdentityStore,
): SessionStore {
  return {
    get: (idHash, now) => sessions.get(idHash, now),
    delete: (idHash) => sessions.delete(idHash),
    sweep: (now) => sessions.sweep(now),
    async put(session) {
      await sessions.put(session);
      await identities.put({
        sub: session.sub,
        email: session.email,
        name: session.name,
        groups: session.groups,
        claims: session.claims,
        updatedAt: session.createdAt,
      });
    },
  };
}

/** The client's address for rate limits: the peer, or the last hop a trusted proxy names. */
export function clientIp(req: IncomingMessage, trustedProxy: (address: string) => boolean): string {
  const peer = req.socket.remoteAddress ?? 'unknown';
  const forwarded = req.headers['x-forwarded-for'];
  if (typeof forwarded !== 'string' || !trustedProxy(peer)) return peer;
  return forwarded.split(',').at(-1)?.trim() || peer;
}
