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
   * From `upstreamRequestHeaders`, owned by this request (framing fields are set in it);
   * without `host`, the upstream's own host is sent.
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
}

const endpoints = new WeakMap<URL, Endpoint>();

function endpointOf(to: URL): Endpoint {
  let endpoint = endpoints.get(to);
  if (endpoint === undefined) {
    // node wants an IPv6 literal without its brackets (it adds them back in Host).
    const hostname = to.hostname.replace(/^\[(.*)\]$/, '$1');
    endpoint = { https: to.protocol === 'https:', hostname, port: to.port };
    endpoints.set(to, endpoint);
  }
  return endpoint;
}

/**
 * Starts one upstream request to `to` for `path` (the rewritten request target) and sends (or
 * streams) its body. Without a `host` header node sends the upstream's own (RFC 9110 §7.2).
 */
export function startUpstreamRequest(
  to: URL,
  path: string,
  req: IncomingMessage,
  o: UpstreamRequestOptions,
): ClientRequest {
  const { https, hostname, port } = endpointOf(to);
  const upstream = (https ? httpsRequest : httpRequest)({
    hostname,
    port,
    path,
    method: req.method,
    headers: requestHeaders(o),
    agent: https ? o.pools.https : o.pools.http,
  });
  limitConnectTime(upstream, o.connectTimeoutMs);
  if (o.body !== undefined) upstream.end(o.body);
  else if (o.streamedBody) req.pipe(upstream);
  else upstream.end();
  return upstream;
}

/**
 * The framing fields over `o.headers`, set in place: that object is this request's own, and
 * what is set is the same for every upstream tried.
 */
function requestHeaders(o: UpstreamRequestOptions): OutgoingHttpHeaders {
  const { headers } = o;
  // RFC 9110 §12.5.3: a rewrite reads the body's bytes, so it asks for no content coding.
  if (o.rewritesAnswer) headers['accept-encoding'] = 'identity';
  if (o.body !== undefined) {
    headers['content-length'] = o.body.length;
  } else if (o.streamedBody && headers['content-length'] === undefined) {
    // A body of unknown length from the client goes on chunked (RFC 9112 §6.1), whatever the
    // method: node only chunks some methods by default.
    headers['transfer-encoding'] = 'chunked';
  }
  return headers;
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
