/**
 * RFC 8707 resource indicators as clients spell them. oidc-provider, the consent step and the
 * grant compare a resource as an exact string, so a `resource` that names one of the host's MCP
 * servers in another spelling is replaced by the configured one before the provider sees it.
 */

/**
 * The configured resource `value` names when it differs from one only where URIs are equal
 * anyway: the case of the scheme and host, a default port, an empty path for `/` (RFC 3986
 * §6.2.2.1, §6.2.3; MCP 2025-11-25 "Canonical Server URI": servers SHOULD accept those forms).
 * Anything else, the path's case included, comes back as given, for the provider to judge.
 */
export function canonicalResource(value: string, resources: readonly string[]): string {
  if (resources.includes(value)) return value;
  const key = comparable(value);
  if (key === undefined) return value;
  return resources.find((r) => comparable(r) === key) ?? value;
}

/**
 * Replaces every `resource` of `params` by its canonical form (`canonicalResource`), keeping
 * their order; true when one changed.
 */
export function canonicalResourceParams(
  params: URLSearchParams,
  resources: readonly string[],
): boolean {
  const given = params.getAll('resource');
  const canonical = given.map((value) => canonicalResource(value, resources));
  if (canonical.every((value, i) => value === given[i])) return false;
  params.delete('resource');
  for (const value of canonical) params.append('resource', value);
  return true;
}

/** Scheme, authority and the rest, as written: no URL parser's other rewriting applies. */
const URI = /^([A-Za-z][A-Za-z\d+.-]*:\/\/)([^/?#]*)(.*)$/s;

/** `value` with scheme and host lower-cased, no default port, `/` for an empty path. */
function comparable(value: string): string | undefined {
  const parts = URI.exec(value);
  if (parts === null) return undefined;
  let url: URL;
  try {
    url = new URL(`${parts[1]}${parts[2]}`);
  } catch {
    return undefined;
  }
  // Only http(s) has the default ports and empty-path rule; a user name is no MCP server's.
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.username || url.password) {
    return undefined;
  }
  const rest = parts[3] ?? '';
  return `${url.protocol}//${url.host}${rest.startsWith('/') ? rest : `/${rest}`}`;
}
