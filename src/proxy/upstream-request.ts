import {
  request as httpRequest,
  type Agent as HttpAgent,
  type ClientRequest,
  type IncomingMessage,
  type OutgoingHttpHeaders,
} from 'node:http';
import { request as httpsRequest, type Agent as HttpsAgent } from 'node:https';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { UpstreamTimeoutError } from './errors.js';

/** The keep-alive pools, one per scheme. */
export interface Pools {
  readonly http: HttpAgent;
  readonly https: HttpsAgent;
}

export interface UpstreamRequestOptions {
  readonly pools: Pools;
  /** Time to get a connected socket (queueing for one included). */
  readonly connectTimeoutMs: number;
  /**
   * From `upstreamRequestHeaders` (lower-case names); without `host`, the upstream's own
   * authority is sent.
   */
  readonly headers: OutgoingHttpHeaders;
  /** The body the gateway has already read; else `streamedBody` says whether `req` has one. */
  readonly body: Buffer | undefined;
  readonly streamedBody: boolean;
  /** A rewrite will read the answer's bytes. */
  readonly rewritesAnswer: boolean;
}

/** Where node connects for one `to`, taken from its URL once (not per request). */
interface Endpoint {
  readonly https: boolean;
  readonly hostname: string;
  readonly port: string;
  /** The Host field for it (`host:port`, the port left out when it is the scheme's). */
  readonly host: string;
}

const endpoints = new WeakMap<URL, Endpoint>();

function endpointOf(to: URL): Endpoint {
  let endpoint = endpoints.get(to);
  if (endpoint === undefined) {
    // node connects to an IPv6 literal given without its brackets; Host keeps them.
    const hostname = to.hostname.replace(/^\[(.*)\]$/, '$1');
    endpoint = { https: to.protocol === 'https:', hostname, port: to.port, host: to.host };
    endpoints.set(to, endpoint);
  }
  return endpoint;
}

/**
 * Starts one upstream request to `to` for `path` (the rewritten request target) and sends (or
 * streams) its body.
 */
export function startUpstreamRequest(
  to: URL,
  path: string,
  req: IncomingMessage,
  o: UpstreamRequestOptions,
): ClientRequest {
  const { https, hostname, port, host } = endpointOf(to);
  const upstream = (https ? httpsRequest : httpRequest)({
    hostname,
    port,
    path,
    method: req.method,
    headers: rawRequestHeaders(o, host),
    agent: https ? o.pools.https : o.pools.http,
  });
  limitConnectTime(upstream, o.connectTimeoutMs);
  if (o.body !== undefined) upstream.end(o.body);
  else if (o.streamedBody) req.pipe(upstream);
  else upstream.end();
  return upstream;
}

/**
 * The header block as name, value pairs: `o.headers` with the framing fields and the Host set.
 * node takes such a list as it is (validating each field) instead of storing each header one
 * by one and then serializing them, which costs more than everything else this step does.
 */
function rawRequestHeaders(o: UpstreamRequestOptions, host: string): string[] {
  const { headers } = o;
  const raw: string[] = [];
  let hasHost = false;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || replacedFraming(name, o)) continue;
    if (name === 'host') hasHost = true;
    if (Array.isArray(value)) for (const v of value) raw.push(name, v);
    else raw.push(name, typeof value === 'string' ? value : String(value));
  }
  // RFC 9110 §7.2: the upstream's own authority, unless the route preserves the client's.
  if (!hasHost) raw.push('host', host);
  // RFC 9110 §12.5.3: a rewrite reads the body's bytes, so it asks for no content coding.
  if (o.rewritesAnswer) raw.push('accept-encoding', 'identity');
  if (o.body !== undefined) raw.push('content-length', String(o.body.length));
  else if (o.streamedBody && headers['content-length'] === undefined) {
    // A body of unknown length from the client goes on chunked (RFC 9112 §6.1), whatever the
    // method: node only chunks some methods by default.
    raw.push('transfer-encoding', 'chunked');
  }
  return raw;
}

/** Fields of the client's that the gateway sets itself for this request. */
function replacedFraming(name: string, o: UpstreamRequestOptions): boolean {
  if (name === 'accept-encoding') return o.rewritesAnswer;
  if (name === 'content-length') return o.body !== undefined;
  return false;
}

/** Fails the request when no connected socket (TLS included) comes within `ms`. */
function limitConnectTime(upstream: ClientRequest, ms: number): void {
  const connectTimer = setTimeout(
    () => upstream.destroy(new UpstreamTimeoutError('connect', ms)),
    ms,
  );
  const connected = () => clearTimeout(connectTimer);
  upstream.on('socket', (socket: Socket) => {
    // The pool's idle timeout is for free sockets only; a stream in use may idle for hours.
    socket.setTimeout(0);
    if (!socket.connecting && (!(socket instanceof TLSSocket) || !socket.pending)) connected();
    else socket.once(socket instanceof TLSSocket ? 'secureConnect' : 'connect', connected);
  });
  upstream.on('close', connected);
}
