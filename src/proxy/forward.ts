import {
  Agent as HttpAgent,
  request as httpRequest,
  type AgentOptions,
  type ClientRequest,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { limitBodyIdle } from '../core/body-deadline.js';
import {
  UpstreamAbortedError,
  UpstreamTimeoutError,
  UpstreamUnavailableError,
  type UpstreamError,
} from './errors.js';
import { downstreamResponseHeaders, stripHopByHop } from './headers.js';
import { createBalancer, type Balancer } from './balance.js';

export interface ForwarderOptions {
  readonly logger: Logger;
  /** Merged over the defaults below; applies to the http and the https pool alike. */
  readonly agentOptions?: AgentOptions;
  /** Time to get a connected socket (queueing for one included). Default 10 s. */
  readonly connectTimeoutMs?: number;
  /** How long an upstream that refused a connection is tried last. Default 5 s. */
  readonly ejectMs?: number;
}

export interface ForwardOptions {
  /** Candidate upstream URLs, already rewritten (path and query) for this request. */
  readonly upstreams: readonly URL[];
  /** From `upstreamRequestHeaders`; without `host`, each upstream's own host is sent. */
  readonly headers: OutgoingHttpHeaders;
  /** The request body when the gateway has already read it (replayable on failover). */
  readonly body?: Buffer;
  /** Whole-exchange deadline; null or 0: none (MCP routes: streams live as long as they need). */
  readonly timeoutMs: number | null;
  /** Longest silence in both directions; null or 0: none. */
  readonly idleTimeoutMs: number | null;
  /** The JSON-RPC id answered in a gateway error on an MCP POST. */
  readonly jsonRpcErrorId?: string | number | null;
  /**
   * A rewrite of the upstream's answer (tools/list filtering). The upstream is asked for an
   * unencoded body (the rewrite reads its bytes), and is cut off once the rewrite has ended.
   */
  readonly onResponse?: (upstreamRes: IncomingMessage) => ResponseRewrite | undefined;
  /** Gateway errors are JSON-RPC errors (code -32603) rather than plain JSON. */
  readonly isMcpPost: boolean;
}

/** The status line and header fields sent to the client. */
export interface ResponseHead {
  readonly status: number;
  readonly headers: OutgoingHttpHeaders;
}

export interface ResponseRewrite {
  /** The upstream's body goes in; the client gets what comes out. */
  readonly body: Duplex;
  /** The head to send, from the upstream's (hop-by-hop fields and Content-Length removed). */
  head(upstream: ResponseHead): ResponseHead;
  /** Ask for the head only once `body` first emits or ends: a buffered answer may yet fail. */
  readonly holdHead: boolean;
}

export interface ForwardResult {
  /** The status sent to the client; 0 when the client left before any. */
  readonly status: number;
  /** The upstream that answered (or was last tried). */
  readonly upstream: URL | undefined;
  readonly error: UpstreamError | undefined;
  readonly clientClosed: boolean;
}

export interface Forwarder {
  /** Streams `req` to an upstream and its answer back to `res`. Never rejects. */
  forward(
    req: IncomingMessage,
    res: ServerResponse,
    options: ForwardOptions,
  ): Promise<ForwardResult>;
  /** Closes pooled connections. */
  close(): void;
}

const DEFAULT_AGENT: AgentOptions = {
  keepAlive: true,
  // Newest-first reuse lets surplus sockets age out; a free socket closes after `timeout` (or
  // the upstream's `Keep-Alive: timeout` hint, whichever is shorter), ahead of a typical 5 s
  // server-side keep-alive timeout.
  scheduling: 'lifo',
  timeout: 4000,
  // Per origin. SSE streams hold a socket each for their lifetime, so this is high; a request
  // queued behind a full pool still fails after the connect timeout instead of hanging.
  maxSockets: 1024,
  maxFreeSockets: 256,
  noDelay: true,
};

/** Socket errors that mean "no response came from this upstream; another may answer". */
const CONNECT_ERRORS = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
]);
const RESET_ERRORS = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

export function createForwarder(options: ForwarderOptions): Forwarder {
  const agentOptions = { ...DEFAULT_AGENT, ...options.agentOptions };
  const pools = { http: new HttpAgent(agentOptions), https: new HttpsAgent(agentOptions) };
  const settings: Settings = {
    logger: options.logger,
    pools,
    connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
    balancer: createBalancer(options.ejectMs ?? 5000),
  };
  return {
    forward: (req, res, o) => new Promise((resolve) => exchange(settings, req, res, o, resolve)),
    close() {
      pools.http.destroy();
      pools.https.destroy();
    },
  };
}

interface Settings {
  readonly logger: Logger;
  readonly pools: { readonly http: HttpAgent; readonly https: HttpsAgent };
  readonly connectTimeoutMs: number;
  readonly balancer: Balancer;
}

/** One client request: attempts upstreams in balancer order until one answers. */
function exchange(
  s: Settings,
  req: IncomingMessage,
  res: ServerResponse,
  o: ForwardOptions,
  resolve: (r: ForwardResult) => void,
): void {
  const streamedBody = o.body === undefined && hasBody(req);
  const replayable = !streamedBody;
  const order = s.balancer.order(o.upstreams);
  const tried: string[] = [];
  let position = 0;
  let staleRetried = false;
  let current: ClientRequest | undefined;
  let upstreamRes: IncomingMessage | undefined;
  let done = false;
  let lastUrl: URL | undefined;

  const finish = (status: number, error?: UpstreamError, clientClosed = false) => {
    if (done) return;
    done = true;
    if (deadline) clearTimeout(deadline);
    if (idle) clearTimeout(idle);
    if (error) s.logger.warn({ err: error, upstream: lastUrl?.origin }, error.message);
    resolve({ status, upstream: lastUrl, error, clientClosed });
  };

  /** Fails the exchange: an error response if nothing was sent yet, else a cut connection. */
  const fail = (error: UpstreamError) => {
    if (done) return;
    current?.destroy();
    upstreamRes?.destroy();
    if (res.headersSent) {
      res.destroy();
      finish(res.statusCode, error);
      return;
    }
    sendError(res, error, o);
    finish(error.status, error);
  };

  const timeout = (ms: number | null, which: 'response' | 'idle') =>
    ms ? setTimeout(() => fail(new UpstreamTimeoutError(which, ms)), ms) : undefined;
  const deadline = timeout(o.timeoutMs, 'response');
  const idle = timeout(o.idleTimeoutMs, 'idle');
  const touch = idle ? () => idle.refresh() : undefined;

  res.on('close', () => {
    if (res.writableFinished || done) return;
    // The client went away: nothing downstream can use the upstream's work any more.
    current?.destroy();
    upstreamRes?.destroy();
    finish(0, undefined, true);
  });
  if (touch && streamedBody) req.on('data', touch);
  if (streamedBody) {
    // `timeout_read` becomes a limit on silence between chunks; when it expires the edge
    // answers 408 and closes, and the upstream's half-sent request is dropped here.
    limitBodyIdle(req, () => {
      current?.destroy();
      upstreamRes?.destroy();
      finish(res.headersSent ? res.statusCode : 408);
    });
  }

  const attempt = () => {
    const index = order[position];
    const url = index === undefined ? undefined : o.upstreams[index];
    if (!url) return;
    lastUrl = url;
    const upstream = send(s, url, req, o, streamedBody);
    current = upstream;
    upstream.on('response', (r) => {
      upstreamRes = r;
      relay(r);
    });
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      if (done || upstreamRes) return;
      const code = err instanceof UpstreamTimeoutError ? 'ETIMEDOUT' : (err.code ?? '');
      if (replayable && !staleRetried && upstream.reusedSocket && RESET_ERRORS.has(code)) {
        // The keep-alive race: the upstream closed an idle socket as we reused it.
        staleRetried = true;
        attempt();
        return;
      }
      tried.push(url.origin);
      const connectFailure = CONNECT_ERRORS.has(code);
      if (connectFailure) s.balancer.eject(url);
      s.logger.debug({ err, upstream: url.origin }, 'upstream attempt failed');
      position += 1;
      const more = position < order.length;
      if (replayable && more && (connectFailure || RESET_ERRORS.has(code))) attempt();
      else fail(new UpstreamUnavailableError(tried, { cause: err }));
    });
  };

  const relay = (r: IncomingMessage) => {
    const rewrite = o.onResponse?.(r);
    let headSent = false;
    const sendHead = (): boolean => {
      if (headSent) return true;
      headSent = true;
      const { status, headers } = responseHead(r, rewrite);
      const streaming =
        headers['content-length'] === undefined ||
        String(headers['content-type']).startsWith('text/event-stream');
      try {
        if (r.statusMessage && status === r.statusCode) {
          res.writeHead(status, r.statusMessage, headers);
        } else res.writeHead(status, headers);
      } catch (err) {
        fail(new UpstreamUnavailableError([...tried, lastUrl?.origin ?? ''], { cause: err }));
        return false;
      }
      if (streaming) {
        // Headers now, and each event as it comes: a stream (SSE) may stay quiet for long.
        res.socket?.setNoDelay(true);
        res.flushHeaders();
      }
      if (deadline && /^text\/event-stream/i.test(String(headers['content-type']))) {
        // The route timeout bounds the wait for the answer; an event stream then lives while it
        // is not idle (REFERENCE §3: Pomerium cut SSE streams at the route timeout).
        clearTimeout(deadline);
      }
      return true;
    };
    if (!rewrite?.holdHead && !sendHead()) return;
    if (touch) r.on('data', touch);
    r.on('error', () => {}); // reported through 'close' below, with `complete` false
    let rewriteEnded = false;
    r.on('close', () => {
      if (!r.complete && !rewriteEnded) fail(new UpstreamAbortedError());
    });
    const source = rewrite ? r.pipe(rewrite.body) : r;
    if (rewrite) {
      rewrite.body.on('error', (err) => fail(new UpstreamAbortedError({ cause: err })));
    }
    if (rewrite?.holdHead) {
      source.once('data', (first: Buffer) => {
        source.pause();
        if (!sendHead()) return;
        res.write(first);
        source.pipe(res, { end: false });
      });
    } else source.pipe(res, { end: false });
    source.on('end', () => {
      if (!sendHead()) return;
      // The rewrite may have ended before the upstream did (it refused an oversized answer):
      // what the upstream still sends is read by nobody.
      rewriteEnded = true;
      if (rewrite && !r.complete) {
        r.destroy();
        rewrite.body.destroy();
      }
      // Trailer fields end-to-end (RFC 9110 §6.5); node sends them on a chunked response.
      if (!rewrite && r.rawTrailers.length > 0) res.addTrailers(stripHopByHop(r.trailers));
      res.end(() => finish(res.statusCode));
    });
  };

  if (order.length === 0) fail(new UpstreamUnavailableError([]));
  else attempt();
}

/** The head for the client (`downstreamResponseHeaders`), as a rewrite makes it. */
function responseHead(r: IncomingMessage, rewrite: ResponseRewrite | undefined): ResponseHead {
  const head = { status: r.statusCode ?? 502, headers: downstreamResponseHeaders(r.headers) };
  if (!rewrite) return head;
  delete head.headers['content-length'];
  return rewrite.head(head);
}

/** Starts one upstream request and sends (or streams) its body. */
function send(
  s: Settings,
  url: URL,
  req: IncomingMessage,
  o: ForwardOptions,
  streamedBody: boolean,
): ClientRequest {
  const headers: OutgoingHttpHeaders = { ...o.headers };
  headers.host ??= url.host;
  // RFC 9110 §12.5.3: a rewrite reads the body's bytes, so it asks for no content coding.
  if (o.onResponse) headers['accept-encoding'] = 'identity';
  if (o.body !== undefined) {
    headers['content-length'] = o.body.length;
  } else if (streamedBody && headers['content-length'] === undefined) {
    // A body of unknown length from the client goes on chunked (RFC 9112 §6.1), whatever the
    // method: node only chunks some methods by default.
    headers['transfer-encoding'] = 'chunked';
  }
  const https = url.protocol === 'https:';
  const upstream = (https ? httpsRequest : httpRequest)(url, {
    method: req.method,
    headers,
    agent: https ? s.pools.https : s.pools.http,
  });
  const connectTimer = setTimeout(
    () => upstream.destroy(new UpstreamTimeoutError('connect', s.connectTimeoutMs)),
    s.connectTimeoutMs,
  );
  const connected = () => clearTimeout(connectTimer);
  upstream.on('socket', (socket: Socket) => {
    // The pool's idle timeout is for free sockets only; a stream in use may idle for hours.
    socket.setTimeout(0);
    if (!socket.connecting && (!(socket instanceof TLSSocket) || !socket.pending)) connected();
    else socket.once(socket instanceof TLSSocket ? 'secureConnect' : 'connect', connected);
  });
  upstream.on('close', connected);
  if (o.body !== undefined) upstream.end(o.body);
  else if (streamedBody) req.pipe(upstream);
  else upstream.end();
  return upstream;
}

/** RFC 9112 §6.3: a request has a body only if it says so with Transfer-Encoding or Content-Length. */
function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

function sendError(res: ServerResponse, error: UpstreamError, o: ForwardOptions): void {
  const body = o.isMcpPost
    ? JSON.stringify({
        jsonrpc: '2.0',
        id: o.jsonRpcErrorId ?? null,
        error: { code: -32603, message: error.message },
      })
    : JSON.stringify({
        error: error.status === 504 ? 'upstream_timeout' : 'upstream_unavailable',
        error_description: error.message,
      });
  res.writeHead(error.status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(body);
}
