import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import {
  GATEWAY_COOKIE_PREFIX,
  isGatewayCookie,
  withoutGatewayCookies,
} from '../core/gateway-cookies.js';
import { normalizeAddress } from '../net/trusted-proxies.js';
import { isIdentityHeader } from './identity-headers.js';

/**
 * Hop-by-hop fields: they describe one connection and are never forwarded. RFC 9110 §7.6.1
 * names Connection and the fields it lists; Keep-Alive and Proxy-Connection are the HTTP/1.0
 * ones it mentions; TE (§10.1.4) and Upgrade (§7.8) are connection options; Transfer-Encoding
 * is framing (RFC 9112 §6.1); Proxy-Authenticate/Authorization are for the proxy itself
 * (RFC 9110 §11.7). Expect is answered by our own server (RFC 9110 §10.1.1), so it is not
 * passed on either.
 */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'transfer-encoding',
  'upgrade',
  'proxy-authenticate',
  'proxy-authorization',
  'expect',
]);

/** Which kind of route a request is for: it decides which credentials may go upstream. */
export type RouteKind = 'mcp-server' | 'mcp-client' | 'plain';

export interface RequestHeaderContext {
  /** The socket peer (`req.socket.remoteAddress`). */
  readonly peerAddress: string | undefined;
  /** The scheme the client used to reach this listener. */
  readonly listenerScheme: 'http' | 'https';
  /** Whether the peer may set X-Forwarded-* for us: see `compileTrustedProxies`. */
  readonly trustedProxy: (address: string) => boolean;
  readonly routeKind: RouteKind;
  /** Keep the client's Host; otherwise the forwarder sets each upstream's own host. */
  readonly preserveHostHeader: boolean;
  /** The configured claim header names, lower case (`claimHeaderNames`). */
  readonly claimHeaders: ReadonlySet<string>;
}

/**
 * Headers for the upstream request, from the client's, in one pass over them (this runs on
 * every proxied request: no copy-then-delete, which would also turn the object into a slow
 * dictionary). Host is left out unless preserved: node sets each upstream's own (RFC 9110
 * §7.2), since a route may balance over several.
 */
export function upstreamRequestHeaders(
  incoming: IncomingHttpHeaders,
  ctx: RequestHeaderContext,
): OutgoingHttpHeaders {
  const peer = normalizeAddress(ctx.peerAddress ?? '');
  const trusted = peer !== '' && ctx.trustedProxy(peer);
  const named = connectionOptions(incoming.connection);
  const out: OutgoingHttpHeaders = {};
  for (const name in incoming) {
    const value = incoming[name];
    if (value === undefined || HOP_BY_HOP.has(name) || named?.has(name)) continue;
    if (!keptFromClient(name, ctx, trusted)) continue;
    out[name] = value;
  }
  if (typeof out.cookie === 'string') stripGatewayCookies(out, out.cookie);
  // RFC 9110 §10.1.4: TE is hop-by-hop, but "trailers" only says the chain accepts trailer
  // fields, which stays true through this proxy (it relays them), so it goes on, named in
  // Connection as the RFC requires of a TE sender. (undici writes a Connection field of its
  // own, `keep-alive`, in place of this one.)
  if (acceptsTrailers(incoming.te)) {
    out.te = 'trailers';
    out.connection = 'te';
  }
  setForwarded(out, incoming, ctx, peer, trusted);
  return out;
}

/** Whether a (non-hop-by-hop) client field may go upstream on this route. */
function keptFromClient(name: string, ctx: RequestHeaderContext, trusted: boolean): boolean {
  // Identity headers are the gateway's to set, on every route, whether it sets them or not:
  // a client must never be able to supply one (issue 8).
  if (isIdentityHeader(name, ctx.claimHeaders)) return false;
  if (name === 'host') return ctx.preserveHostHeader;
  // The client's token is for the gateway (its audience); the gateway may add the upstream
  // token (mcp.server) or the client-mode token (mcp.client) afterwards. REFERENCE §2: never
  // forwarded on MCP routes.
  if (name === 'authorization') return ctx.routeKind === 'plain';
  // The gateway checks Origin itself (MCP transport: DNS rebinding); the server behind it
  // would see a browser origin it cannot know.
  if (name === 'origin') return ctx.routeKind !== 'mcp-server';
  // Only a trusted proxy's forwarding headers are extended (`setForwarded`).
  return trusted || !isForwardingHeader(name);
}

function isForwardingHeader(name: string): boolean {
  return name.startsWith('x-forwarded-') || name === 'forwarded' || name === 'x-real-ip';
}

/**
 * The gateway's own cookies are credentials for the whole gateway and never go upstream; the
 * client's other cookies are the upstream's business and stay (RFC 6265 §5.4: one header).
 */
function stripGatewayCookies(out: OutgoingHttpHeaders, cookie: string): void {
  if (!cookie.includes(GATEWAY_COOKIE_PREFIX)) return;
  const kept = withoutGatewayCookies(cookie);
  if (kept === undefined) delete out.cookie;
  else out.cookie = kept;
}

/**
 * Fields that may appear once in a response (RFC 9110 defines each as a single value): a
 * repeat keeps the first, as node's own parser does, rather than joining into a value that
 * means something else (`Content-Length: 5, 5`).
 */
const SINGLE_VALUED = new Set([
  'age',
  'content-length',
  'content-type',
  'etag',
  'expires',
  'last-modified',
  'location',
  'retry-after',
  'server',
]);

/** A field name or value as undici hands it over (a Buffer of latin1 bytes) or as a string. */
export type RawField = Buffer | string;

/**
 * The fields for the client, from the upstream's raw list (name, value, name, value, …), in
 * one pass: names lower case, no hop-by-hop fields (those Connection names included), and no
 * Set-Cookie for a gateway cookie — an upstream that could set `portcullis_session` on the
 * gateway's host could fix a session of its choosing on the user's browser, or sign them out.
 * A repeated field is joined with ", " (RFC 9110 §5.3), Set-Cookie stays a list (RFC 6265 §3).
 * Also used for trailer fields, which follow the same rules.
 */
export function downstreamHeaders(raw: readonly RawField[]): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  let connection: string | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1').toLowerCase();
    const value = raw[i + 1]!.toString('latin1');
    if (HOP_BY_HOP.has(name)) {
      if (name === 'connection') connection = connection ? `${connection}, ${value}` : value;
    } else if (name === 'set-cookie') {
      if (!isGatewayCookie(setCookieName(value))) (out['set-cookie'] ??= []).push(value);
    } else {
      const prior = out[name];
      if (prior === undefined) out[name] = value;
      else if (!SINGLE_VALUED.has(name)) out[name] = `${prior as string}, ${value}`;
    }
  }
  if (connection !== undefined) {
    for (const named of connectionOptions(connection) ?? []) delete out[named];
  }
  return out;
}

/** RFC 6265 §5.2: the name is what comes before the first `=` of the first `;`-part. */
function setCookieName(line: string): string {
  const pair = line.split(';', 1)[0] ?? '';
  const eq = pair.indexOf('=');
  return (eq === -1 ? '' : pair.slice(0, eq)).trim();
}

function connectionOptions(value: string | string[] | undefined): Set<string> | undefined {
  // What nearly every client and server sends names no other field: nothing to build.
  if (value === undefined || value === 'keep-alive' || value === 'close') return undefined;
  const text = Array.isArray(value) ? value.join(',') : value;
  const names = new Set<string>();
  for (const token of text.split(',')) {
    const name = token.trim().toLowerCase();
    if (name !== '') names.add(name);
  }
  return names;
}

function acceptsTrailers(te: string | string[] | undefined): boolean {
  if (te === undefined) return false;
  return headerText(te)
    .split(',')
    .some((t) => t.split(';')[0]!.trim().toLowerCase() === 'trailers');
}

/**
 * X-Forwarded-For/Proto/Host (de facto; RFC 7239 §5 describes the same facts). A peer in the
 * trusted list is a proxy whose values we extend; anyone else's were left out, along with
 * every other forwarding header it sent (`keptFromClient`), so a client cannot choose the
 * address policy or logs see.
 */
function setForwarded(
  out: OutgoingHttpHeaders,
  incoming: IncomingHttpHeaders,
  ctx: RequestHeaderContext,
  peer: string,
  trusted: boolean,
): void {
  const prior = trusted ? headerText(incoming['x-forwarded-for']) : '';
  if (peer !== '') out['x-forwarded-for'] = prior === '' ? peer : `${prior}, ${peer}`;
  else if (prior !== '') out['x-forwarded-for'] = prior;
  if (!trusted || out['x-forwarded-proto'] === undefined) {
    out['x-forwarded-proto'] = ctx.listenerScheme;
  }
  if ((!trusted || out['x-forwarded-host'] === undefined) && incoming.host !== undefined) {
    out['x-forwarded-host'] = incoming.host;
  }
}

function headerText(value: string | string[] | undefined): string {
  if (value === undefined) return '';
  return Array.isArray(value) ? value.join(', ') : value;
}
