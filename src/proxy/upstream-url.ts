/**
 * The upstream request target: the request path with the matched prefix replaced by
 * `prefix_rewrite` when set, else by the path of `to` (Pomerium turns a `to` path into Envoy's
 * `prefix_rewrite`). Unlike a literal string replacement, the join never produces a double
 * slash and keeps a segment boundary: `/` on `to: http://x/sqlite` reaches `/sqlite`, `/foo` on
 * that route reaches `/sqlite/foo` (Envoy would send `/sqlitefoo`).
 */
export function rewritePath(path: string, prefix: string, replacement: string): string {
  const rest = path.startsWith(prefix) ? path.slice(prefix.length) : path;
  const base = replacement === '' ? '/' : replacement;
  if (rest === '') return base;
  // A prefix ending in `/` owns the segment boundary: `rest` is what follows it, so a `/` at
  // the start of `rest` is the client's own and is kept.
  if (prefix.endsWith('/')) return (base.endsWith('/') ? base : `${base}/`) + rest;
  if (rest.startsWith('/')) return (base.endsWith('/') ? base.slice(0, -1) : base) + rest;
  // The prefix ended inside a segment (`/a` matching `/ab`): a literal replacement, as Envoy.
  return base + rest;
}

/**
 * The request target to send to one upstream: the rewritten path and the request's query
 * string unchanged. `requestTarget` is the request line's origin-form (`req.url`). A string,
 * built once per attempt: no URL is parsed per request.
 */
export function upstreamPath(
  to: URL,
  requestTarget: string,
  prefix: string,
  prefixRewrite: string | null,
): string {
  const q = requestTarget.indexOf('?');
  const path = q === -1 ? requestTarget : requestTarget.slice(0, q);
  const query = q === -1 ? '' : requestTarget.slice(q);
  return rewritePath(path, prefix, prefixRewrite ?? to.pathname) + query;
}

/** The URL to send to one upstream: its origin and `upstreamPath`. */
export function upstreamUrl(
  to: URL,
  requestTarget: string,
  prefix: string,
  prefixRewrite: string | null,
): URL {
  // Built from strings rather than by setting `pathname`, which would re-encode the path.
  return new URL(to.origin + upstreamPath(to, requestTarget, prefix, prefixRewrite));
}
