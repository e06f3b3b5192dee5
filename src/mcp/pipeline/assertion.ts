/**
 * Step 5: who the upstream is told the caller is: `X-Pomerium-Jwt-Assertion` and the
 * `jwt_claims_headers`, on routes with `pass_identity_headers`.
 */
import type { OutgoingHttpHeaders } from 'node:http';
import type { RouteConfig } from '../../config/types.js';
import { identityHeaderValue } from '../../proxy/identity-headers.js';
import type { SessionRecord } from '../../storage/types.js';
import type { PipelinePorts } from './context.js';

export async function identityHeaders(
  ports: Pick<PipelinePorts, 'assertionFor' | 'claimsHeaders'>,
  route: RouteConfig,
  session: SessionRecord | undefined,
): Promise<OutgoingHttpHeaders> {
  if (!session || !route.passIdentityHeaders) return NONE;
  const headers: OutgoingHttpHeaders = {
    'x-pomerium-jwt-assertion': await ports.assertionFor(route, session),
  };
  addClaimHeaders(headers, ports.claimsHeaders, session);
  return headers;
}

const NONE: OutgoingHttpHeaders = Object.freeze({});

/** `jwt_claims_headers`: each configured header carrying the session's claim, when it has it. */
export function addClaimHeaders(
  headers: OutgoingHttpHeaders,
  names: Readonly<Record<string, string>>,
  session: SessionRecord,
): void {
  for (const name in names) {
    const value = claimValue(session, names[name]!);
    if (value !== undefined) headers[name.toLowerCase()] = identityHeaderValue(value);
  }
}

function claimValue(session: SessionRecord, claim: string): string | undefined {
  const value =
    claim === 'email' ? session.email : claim === 'groups' ? session.groups : session.claims[claim];
  if (value === undefined || value === null) return undefined;
  return Array.isArray(value) ? value.map(String).join(',') : String(value);
}
