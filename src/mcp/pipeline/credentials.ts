/**
 * Step 4: credentials for the upstream. The client's own token never goes upstream (REFERENCE
 * §2; `upstreamRequestHeaders` removes it); what the gateway holds for this user and route goes
 * in its place.
 */
import type { OutgoingHttpHeaders } from 'node:http';
import type { RouteConfig } from '../../config/types.js';
import type { SessionRecord } from '../../storage/types.js';

/**
 * The header fields that carry the gateway's credentials for `route` on behalf of `session`.
 * None yet: issue 10 (the upstream token vault) fills this with the route's upstream OAuth
 * token (`Authorization: Bearer TI`), acquired, refreshed and decrypted per user and route.
 */
export async function upstreamCredentials(
  _route: RouteConfig,
  _session: SessionRecord | undefined,
): Promise<OutgoingHttpHeaders> {
  return {};
}
