/**
 * How registered clients are recognised again: the fingerprint of a registration (an identical
 * public re-registration gets the existing client back, so keeps its client_id) and the
 * consent key (a remembered consent belongs to one client_id and one redirect URI).
 */
import { createHash } from 'node:crypto';
import { isObject } from '../core/json.js';
import { isLoopbackHost } from './redirect-uris.js';

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
  if (isObject(value)) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) out[key] = canonical(value[key]);
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

/**
 * `ConsentRecord.clientKey`: SHA-256 of the client_id and the redirect URI of the authorization.
 * Not the client's name or metadata: anyone can register another client with the same ones
 * (a confidential one, even), and it must be asked. The redirect URI because it is where the
 * code goes: a public client_id is no secret (whoever repeats its registration gets it), so only
 * a redirect the person allowed gets a code without asking. A loopback redirect counts without
 * its port, which native clients (VS Code, Claude Code) pick anew at each authorization
 * (RFC 8252 §7.3): only a program on the user's own machine can listen there (RFC 8252 §8.6).
 * For a Client ID Metadata Document the client_id is the document's URL.
 */
export function consentClientKey(clientId: string, redirectUri: string): string {
  return createHash('sha256')
    .update(JSON.stringify(['client', clientId, withoutLoopbackPort(redirectUri)]))
    .digest('hex');
}

function withoutLoopbackPort(redirectUri: string): string {
  let url: URL;
  try {
    url = new URL(redirectUri);
  } catch {
    return redirectUri;
  }
  if (url.protocol !== 'http:' || !isLoopbackHost(url.hostname) || url.port === '') {
    return redirectUri;
  }
  url.port = '';
  return url.href;
}
