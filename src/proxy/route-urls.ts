import type { RouteConfig } from '../config/types.js';

// Routes are frozen for the life of the gateway; their URLs are parsed once, not per request.
const fromUrls = new WeakMap<RouteConfig, URL>();
const toUrls = new WeakMap<RouteConfig, readonly URL[]>();

/** The route's `from` as a URL (treat as read-only). */
export function fromUrl(route: RouteConfig): URL {
  let url = fromUrls.get(route);
  if (!url) fromUrls.set(route, (url = new URL(route.from)));
  return url;
}

/** The route's upstreams (`to`) as URLs (treat as read-only). */
export function upstreamBases(route: RouteConfig): readonly URL[] {
  let urls = toUrls.get(route);
  if (!urls) toUrls.set(route, (urls = route.to.map((to) => new URL(to))));
  return urls;
}
