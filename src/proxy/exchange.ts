import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { declaresBody } from '../core/body.js';
import { limitBodyIdle } from '../core/body-deadline.js';
import { isEventStreamMediaType } from '../core/media-type.js';
import { sendJson, sendJsonRpcError } from '../core/respond.js';
import type { Balancer } from './balance.js';
import {
  UpstreamAbortedError,
  UpstreamTimeoutError,
  UpstreamUnavailableError,
  type UpstreamError,
} from './errors.js';
import type {
  ForwardOptions,
  DeclinedAnswer,
  ForwardResult,
  ResponseHead,
  ResponseRewrite,
} from './forward-options.js';
import { downstreamResponseHeaders, stripHopByHop } from './headers.js';
import { startUpstreamRequest, type Pools } from './upstream-request.js';

export interface ExchangeSettings {
  readonly logger: Logger;
  readonly pools: Pools;
  readonly connectTimeoutMs: number;
  readonly balancer: Balancer;
}

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

/**
 * One client request: attempts upstreams in balancer order until one answers, then relays the
 * answer (through the rewrite, if any). Ends exactly once, through `finish`; failures are
 * answered here and reported in the result, for the caller to log.
 */
export class Exchange {
  private readonly streamedBody: boolean;
  private readonly order: readonly number[];
  private readonly tried: string[] = [];
  private position = 0;
  private staleRetried = false;
  private current: ClientRequest | undefined;
  private upstreamRes: IncomingMessage | undefined;
  private lastUrl: URL | undefined;
  private done = false;
  private headSent = false;
  private rewriteEnded = false;
  private readonly deadline: NodeJS.Timeout | undefined;
  private readonly idle: NodeJS.Timeout | undefined;

  constructor(
    private readonly s: ExchangeSettings,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly o: ForwardOptions,
    private readonly resolve: (r: ForwardResult) => void,
  ) {
    this.streamedBody = o.body === undefined && declaresBody(req.headers);
    this.order = s.balancer.order(o.upstreams);
    this.deadline = this.timer(o.timeoutMs, 'response');
    this.idle = this.timer(o.idleTimeoutMs, 'idle');
  }

  start(): void {
    this.watchClient();
    if (this.order.length === 0) this.fail(new UpstreamUnavailableError([]));
    else this.attempt();
  }

  private timer(ms: number | null, which: 'response' | 'idle'): NodeJS.Timeout | undefined {
    return ms ? setTimeout(() => this.fail(new UpstreamTimeoutError(which, ms)), ms) : undefined;
  }

  private readonly touch = (): void => void this.idle?.refresh();

  private finish(
    status: number,
    error?: UpstreamError,
    clientClosed = false,
    declined?: DeclinedAnswer,
  ): void {
    if (this.done) return;
    this.done = true;
    if (this.deadline) clearTimeout(this.deadline);
    if (this.idle) clearTimeout(this.idle);
    this.resolve({ status, upstream: this.lastUrl, error, clientClosed, declined });
  }

  private cutUpstream(): void {
    this.current?.destroy();
    this.upstreamRes?.destroy();
  }

  /** Fails the exchange: an error response if nothing was sent yet, else a cut connection. */
  private fail(error: UpstreamError): void {
    if (this.done) return;
    this.cutUpstream();
    if (this.res.headersSent) {
      this.res.destroy();
      this.finish(this.res.statusCode, error);
      return;
    }
    sendUpstreamError(this.res, error, this.o);
    this.finish(error.status, error);
  }

  /** The client side: its leaving, and a streamed body's silences. */
  private watchClient(): void {
    this.res.on('close', () => {
      if (this.res.writableFinished || this.done) return;
      // The client went away: nothing downstream can use the upstream's work any more.
      this.cutUpstream();
      this.finish(0, undefined, true);
    });
    if (!this.streamedBody) return;
    if (this.idle) this.req.on('data', this.touch);
    // `timeout_read` becomes a limit on silence between chunks; when it expires the edge
    // answers 408 and closes, and the upstream's half-sent request is dropped here.
    limitBodyIdle(this.req, () => {
      this.cutUpstream();
      this.finish(this.res.headersSent ? this.res.statusCode : 408);
    });
  }

  private attempt(): void {
    const index = this.order[this.position];
    const url = index === undefined ? undefined : this.o.upstreams[index];
    if (!url) return;
    this.lastUrl = url;
    const upstream = startUpstreamRequest(url, this.o.path(url), this.req, {
      pools: this.s.pools,
      connectTimeoutMs: this.s.connectTimeoutMs,
      headers: this.o.headers,
      body: this.o.body,
      streamedBody: this.streamedBody,
      rewritesAnswer: this.o.onResponse !== undefined,
    });
    this.current = upstream;
    upstream.on('response', (r) => {
      this.upstreamRes = r;
      this.relay(r);
    });
    upstream.on('error', (err: NodeJS.ErrnoException) => this.attemptFailed(upstream, url, err));
  }

  /** An attempt that got no response: the next upstream when the body can be sent again. */
  private attemptFailed(upstream: ClientRequest, url: URL, err: NodeJS.ErrnoException): void {
    if (this.done || this.upstreamRes) return;
    const replayable = !this.streamedBody;
    const code = err instanceof UpstreamTimeoutError ? 'ETIMEDOUT' : (err.code ?? '');
    if (replayable && !this.staleRetried && upstream.reusedSocket && RESET_ERRORS.has(code)) {
      // The keep-alive race: the upstream closed an idle socket as we reused it.
      this.staleRetried = true;
      this.attempt();
      return;
    }
    this.tried.push(url.origin);
    const connectFailure = CONNECT_ERRORS.has(code);
    if (connectFailure) this.s.balancer.eject(url);
    this.s.logger.debug({ err, upstream: url.origin }, 'upstream attempt failed');
    this.position += 1;
    const more = this.position < this.order.length;
    if (replayable && more && (connectFailure || RESET_ERRORS.has(code))) this.attempt();
    else this.fail(new UpstreamUnavailableError(this.tried, { cause: err }));
  }

  private relay(r: IncomingMessage): void {
    if (this.o.decline?.(r)) {
      r.resume(); // drained, so its socket goes back to the pool
      const wwwAuthenticate = r.headers['www-authenticate'];
      return this.finish(0, undefined, false, { status: r.statusCode ?? 0, wwwAuthenticate });
    }
    const rewrite = this.o.onResponse?.(r);
    if (!rewrite?.holdHead && !this.sendHead(r, rewrite)) return;
    if (this.idle) r.on('data', this.touch);
    r.on('error', () => {}); // reported through 'close' below, with `complete` false
    r.on('close', () => {
      if (!r.complete && !this.rewriteEnded) this.fail(new UpstreamAbortedError());
    });
    const source = rewrite ? r.pipe(rewrite.body) : r;
    if (rewrite) {
      rewrite.body.on('error', (err) => this.fail(new UpstreamAbortedError({ cause: err })));
    }
    if (rewrite?.holdHead) {
      source.once('data', (first: Buffer) => {
        source.pause();
        if (!this.sendHead(r, rewrite)) return;
        this.res.write(first);
        source.pipe(this.res, { end: false });
      });
    } else source.pipe(this.res, { end: false });
    source.on('end', () => this.relayEnded(r, rewrite));
  }

  private relayEnded(r: IncomingMessage, rewrite: ResponseRewrite | undefined): void {
    if (!this.sendHead(r, rewrite)) return;
    // The rewrite may have ended before the upstream did (it refused an oversized answer):
    // what the upstream still sends is read by nobody.
    this.rewriteEnded = true;
    if (rewrite && !r.complete) {
      r.destroy();
      rewrite.body.destroy();
    }
    // Trailer fields end-to-end (RFC 9110 §6.5); node sends them on a chunked response.
    if (!rewrite && r.rawTrailers.length > 0) this.res.addTrailers(stripHopByHop(r.trailers));
    this.res.end(() => this.finish(this.res.statusCode));
  }

  /** Sends the status line and headers once; false when they could not be sent. */
  private sendHead(r: IncomingMessage, rewrite: ResponseRewrite | undefined): boolean {
    if (this.headSent) return true;
    this.headSent = true;
    const { status, headers } = responseHead(r, rewrite);
    const contentType = headers['content-type'];
    const eventStream = isEventStreamMediaType(
      typeof contentType === 'number' ? undefined : contentType,
    );
    try {
      if (r.statusMessage && status === r.statusCode) {
        this.res.writeHead(status, r.statusMessage, headers);
      } else this.res.writeHead(status, headers);
    } catch (err) {
      const tried = [...this.tried, this.lastUrl?.origin ?? ''];
      this.fail(new UpstreamUnavailableError(tried, { cause: err }));
      return false;
    }
    if (headers['content-length'] === undefined || eventStream) {
      // Headers now, and each event as it comes: a stream (SSE) may stay quiet for long.
      this.res.socket?.setNoDelay(true);
      this.res.flushHeaders();
    }
    if (this.deadline && eventStream) {
      // The route timeout bounds the wait for the answer; an event stream then lives while it
      // is not idle (REFERENCE §3: Pomerium cut SSE streams at the route timeout).
      clearTimeout(this.deadline);
    }
    return true;
  }
}

/** The head for the client (`downstreamResponseHeaders`), as a rewrite makes it. */
function responseHead(r: IncomingMessage, rewrite: ResponseRewrite | undefined): ResponseHead {
  const head = { status: r.statusCode ?? 502, headers: downstreamResponseHeaders(r.headers) };
  if (!rewrite) return head;
  delete head.headers['content-length'];
  return rewrite.head(head);
}

/** The gateway's own answer when no upstream answered (or one failed before its head). */
function sendUpstreamError(res: ServerResponse, error: UpstreamError, o: ForwardOptions): void {
  if (o.isMcpPost) {
    const id = o.jsonRpcErrorId ?? null;
    sendJsonRpcError(res, error.status, { id, code: -32603, message: error.message });
    return;
  }
  sendJson(res, error.status, {
    error: error.status === 504 ? 'upstream_timeout' : 'upstream_unavailable',
    error_description: error.message,
  });
}
