/**
 * The gateway's own cookies, named in one place. Every one starts with `portcullis_` (behind
 * TLS the sign-in cookies also carry `__Host-`, RFC 6265bis §4.1.3.2; oidc-provider sets a
 * `.sig` sibling beside each of its own), so the proxy can take exactly these out of a request
 * it forwards and leave the upstream's cookies alone. They are credentials for the whole
 * gateway: an upstream holding the session cookie could act as the user on every route
 * (issue 8).
 */

export const GATEWAY_COOKIE_PREFIX = 'portcullis_';

/** The built-in identity provider's cookies (oidc-provider's `cookies.names`). */
export const IDP_COOKIE_NAMES = {
  session: 'portcullis_idp_session',
  interaction: 'portcullis_idp_interaction',
  resume: 'portcullis_idp_resume',
} as const;

/** The MCP authorization server's cookies (oidc-provider's `cookies.names`). */
export const MCP_AS_COOKIE_NAMES = {
  session: 'portcullis_mcp_session',
  interaction: 'portcullis_mcp_interaction',
  resume: 'portcullis_mcp_resume',
} as const;

/** Whether a cookie name is one the gateway sets. Names are case-sensitive (RFC 6265 §4.1.1). */
export function isGatewayCookie(name: string): boolean {
  return name.replace(/^__(?:Host|Secure)-/, '').startsWith(GATEWAY_COOKIE_PREFIX);
}

/**
 * A Cookie header (RFC 6265 §5.4: `name=value` pairs joined by `; `) without the gateway's
 * cookies, the others kept byte for byte and in order; undefined when none is left.
 */
export function withoutGatewayCookies(header: string): string | undefined {
  const kept = header
    .split(';')
    .map((pair) => pair.trim())
    .filter((pair) => pair !== '' && !isGatewayCookie(cookieNameOf(pair)));
  return kept.length === 0 ? undefined : kept.join('; ');
}

function cookieNameOf(pair: string): string {
  const eq = pair.indexOf('=');
  return (eq === -1 ? pair : pair.slice(0, eq)).trim();
}
