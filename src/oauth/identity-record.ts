import type { IdentityRecord, SessionRecord } from '../storage/types.js';

/**
 * The identity a token acts as, from the gateway session it was granted under: saved at consent
 * (and when a client-mode token is minted), read by the bearer check on every call.
 */
export function identityRecord(session: SessionRecord, now: number): IdentityRecord {
  const { sub, email, name, groups, claims } = session;
  return { sub, email, name, groups, claims, updatedAt: now };
}
