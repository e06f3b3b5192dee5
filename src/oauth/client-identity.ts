/**
 * How registered clients are recognised again: the fingerprint of a registration (identical
 * re-registrations get the existing client back) and the consent key (a remembered consent
 * follows a client's name and redirect URIs, not its client_id, so a client that re-registers
 * identically is not asked again while a new redirect URI is).
 */
import { createHash } from 'node:crypto';

/** Registration fields that are outputs of registration, never part of what a client asks for. */
const ISSUED = new Set([
  'client_id',
  'client_id_issued_at',
  'client_secret',
  'client_secret_expires_at',
  'registration_access_token',
  'registration_client_uri',
]);
/** Arrays whose order carries no meaning. */
const SETS = new Set([
  'redirect_uris',
  'grant_types',
  'response_types',
  'contacts',
  'post_logout_redirect_uris',
]);

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      out[key] = canonical((value as Record<string, unknown>)[key]);
    }
    return out;
  }
  return value;
}

/** SHA-256 (hex) of the canonical form of a registration request's metadata. */
export function registrationFingerprint(metadata: Readonly<Record<string, unknown>>): string {
  const picked: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(metadata)) {
    if (ISSUED.has(key) || value === undefined) continue;
    if (SETS.has(key) && Array.isArray(value)) picked[key] = [...new Set(value.map(String))].sort();
    else if (key === 'scope' && typeof value === 'string') {
      picked[key] = [...new Set(value.split(' ').filter(Boolean))].sort().join(' ');
    } else picked[key] = value;
  }
  return createHash('sha256')
    .update(JSON.stringify(canonical(picked)))
    .digest('hex');
}

/** `ConsentRecord.clientKey`: SHA-256 of the client's name and sorted redirect URIs. */
export function consentClientKey(clientName: string, redirectUris: readonly string[]): string {
  return createHash('sha256')
    .update(JSON.stringify([clientName, [...new Set(redirectUris)].sort()]))
    .digest('hex');
}
