import { isObject } from '../core/json.js';
import type { IssueSink, Path } from './issues.js';

/** Legacy `mcp.*` keys of a server route and their names under `mcp.server`. */
const LEGACY_SERVER_KEYS: Readonly<Record<string, string>> = {
  upstream_oauth2: 'upstream_oauth2',
  max_request_bytes: 'max_request_bytes',
  path: 'path',
  authorization_server_url: 'authorization_server_url',
};

/**
 * Pomerium's older releases marked a route whose app receives the user's token with this key;
 * its successor is client mode, `mcp: {client: {}}`.
 */
const LEGACY_CLIENT_KEY = 'pass_upstream_access_token';

/**
 * Rewrites the legacy route shape `mcp: {upstream_oauth2, pass_upstream_access_token,
 * max_request_bytes}` (no `server`/`client` split) into `mcp: {server: {…}}`, or into
 * `mcp: {client: {}}` for `pass_upstream_access_token: true` alone, warning with the new key
 * names. Returns whether the route was rewritten, so lines can be looked up under the old keys.
 */
export function translateLegacyMcp(route: Record<string, unknown>, at: Path, sink: IssueSink) {
  const mcp = route.mcp;
  if (mcp === null) {
    route.mcp = { server: {} };
    sink.warn([...at, 'mcp'], 'an empty `mcp:` is the legacy shape; write `mcp: {server: {}}`');
    return true;
  }
  if (!isObject(mcp) || 'server' in mcp || 'client' in mcp) return false;
  const server: Record<string, unknown> = {};
  const rest: Record<string, unknown> = {};
  const renamed: string[] = [];
  for (const [key, value] of Object.entries(mcp)) {
    const newKey = LEGACY_SERVER_KEYS[key];
    if (newKey !== undefined) {
      server[newKey] = value;
      renamed.push(`mcp.${key} is now mcp.server.${newKey}`);
    } else if (key !== LEGACY_CLIENT_KEY) {
      rest[key] = value;
    }
  }
  if (mcp[LEGACY_CLIENT_KEY] === true && renamed.length === 0) {
    route.mcp = { ...rest, client: {} };
    sink.warn(
      [...at, 'mcp', LEGACY_CLIENT_KEY],
      'legacy client route read as mcp.client: write `mcp: {client: {}}`',
    );
    return true;
  }
  if (LEGACY_CLIENT_KEY in mcp) {
    sink.warn(
      [...at, 'mcp', LEGACY_CLIENT_KEY],
      `ignored: it marks a client route (now mcp.client), and this route has server keys; remove it`,
    );
  }
  route.mcp = { ...rest, server };
  sink.warn(
    [...at, 'mcp'],
    `legacy mcp shape (no server/client) read as mcp.server: ${renamed.length > 0 ? renamed.join(', ') : 'write mcp: {server: {}}'}`,
  );
  return true;
}
