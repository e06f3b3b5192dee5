import type { IssueSink, Path } from './issues.js';

const LEGACY_MCP_KEYS: Readonly<Record<string, string | null>> = {
  upstream_oauth2: 'upstream_oauth2',
  max_request_bytes: 'max_request_bytes',
  path: 'path',
  authorization_server_url: 'authorization_server_url',
  // Pomerium's older releases needed this to send the upstream token on; an `mcp.server`
  // route always sends it, so the key has no new name.
  pass_upstream_access_token: null,
};

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Rewrites the legacy route shape `mcp: {upstream_oauth2, pass_upstream_access_token,
 * max_request_bytes}` (no `server`/`client` split) into `mcp: {server: {…}}`, warning with the
 * new key names. Returns whether the route was rewritten, so lines can be looked up under the
 * old keys.
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
    if (!(key in LEGACY_MCP_KEYS)) {
      rest[key] = value;
      continue;
    }
    const newKey = LEGACY_MCP_KEYS[key];
    if (newKey === null || newKey === undefined) {
      sink.warn(
        [...at, 'mcp', key],
        'legacy key without a successor: mcp.server routes always send the upstream token; remove it',
      );
      continue;
    }
    server[newKey] = value;
    renamed.push(`mcp.${key} is now mcp.server.${newKey}`);
  }
  route.mcp = { ...rest, server };
  sink.warn(
    [...at, 'mcp'],
    `legacy mcp shape (no server/client) read as mcp.server: ${renamed.length > 0 ? renamed.join(', ') : 'write mcp: {server: {}}'}`,
  );
  return true;
}
