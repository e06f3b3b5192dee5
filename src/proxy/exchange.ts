import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import { declaresBody } from '../core/body.js';
import { limitBodyIdle } from '../core/body-deadline.js';
import { isEventStreamMediaType } from '../core/media-type.js';
import type { Balancer } from './balance.js';
import {
  sendUpstreamError,
  UpstreamAbortedError,
  UpstreamTimeoutError,
  UpstreamUnavailableError,
  type UpstreamError,
} from './errors.js';
import { failureKind } from './failure.js';
import type {
  ForwardOptions,
  DeclinedAnswer,
  ForwardResult,
  ResponseHead,
  ResponseRewrite,
  UpstreamHead,
} from './forward-options.js';
import { downstreamHeaders } from './headers.js';
import {
  startUpstreamRequest,
  type AttemptEvents,
  type UpstreamAttempt,
} from './upstream-request.js';

/** The longest body of a declined answer that is drained to keep its connection. */
const MAX_DRAINED_BYTES = 64 * 1024;

export interface ExchangeSettings {
  readonly logger: Logger;
  /** undici's pools, one per upstream origin. */
  readonly dispatcher: Dispatcher;
  readonly connectTimeoutMs: number;
  readonly balancer: Balancer;
}

/**
 * One client request: attempts upstreams in balancer order until one answers, then relays the
 * answer (through the rewrite, if any). Ends exactly once, through `finish`; failures are
 * answered here and reported in the result, for the caller to log.
 */
export class Exchange implements AttemptEvents {
  private readonly streamedBody: boolean;
  private readonly order: readonly number[];
  private readonly tried: string[] = [];
  private position = 0;
  private staleRetried = false;
  private current: UpstreamAttempt | undefined;
  private rewrite: ResponseRewrite | undefined;
  private lastUrl: URL | undefined;
  private done = false;
  private headSent = false;
  /** Bytes of a Content-Length body still to come, and its last chunk, held for `end`. */
  private bodyLeft = -1;
  private lastChunk: Buffer | undefined;
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
    this.current?.cancel();
    this.rewrite?.body.destroy();
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
    this.current = startUpstreamRequest(
      url,
      this.o.path(url),
      this.req,
      {
        dispatcher: this.s.dispatcher,
        connectTimeoutMs: this.s.connectTimeoutMs,
        headers: this.o.headers,
        body: this.o.body,
        streamedBody: this.streamedBody,
        rewritesAnswer: this.o.onResponse !== undefined,
      },
      this,
    );
  }

  /** An attempt that failed: before its head, the next upstream when the body can go again. */
  failed(attempt: UpstreamAttempt, err: NodeJS.ErrnoException): void {
    if (this.done || attempt !== this.current) return;
    if (attempt.responded) {
      if (!this.rewriteEnded) this.fail(new UpstreamAbortedError({ cause: err }));
      return;
    }
    const url = this.lastUrl!;
    const replayable = !this.streamedBody;
    const kind = failureKind(err);
    if (replayable && !this.staleRetried && kind === 'stale') {
      // The keep-alive race: the upstream closed an idle connection as it was reused.
      this.staleRetried = true;
      this.attempt();
      return;
    }
    this.tried.push(url.origin);
    if (kind === 'connect') this.s.balancer.eject(url);
    this.s.logger.debug({ err, upstream: url.origin }, 'upstream attempt failed');
    this.position += 1;
    const more = this.position < this.order.length;
    if (replayable && more && kind !== 'other') this.attempt();
    else this.fail(new UpstreamUnavailableError(this.tried, { cause: err }));
  }

  /** The upstream's head: declined, relayed, or handed to the rewrite. */
  head(attempt: UpstreamAttempt, status: number, statusText: string, raw: Buffer[]): boolean {
    const headers = downstreamHeaders(raw);
    const upstream: UpstreamHead = { status, statusText, headers };
    if (this.o.decline?.(upstream)) {
      const wwwAuthenticate = upstream.headers['www-authenticate'] as string | undefined;
      // A short body is read to its end and dropped, so the connection goes back to the pool;
      // anything else is cut. The caller may forward again at once either way.
      if (!(Number(upstream.headers['content-length']) <= MAX_DRAINED_BYTES)) attempt.cancel();
      this.finish(0, undefined, false, { status, wwwAuthenticate });
      return true;
    }
    const rewrite = this.o.onResponse?.(upstream);
    this.rewrite = rewrite;
    if (!rewrite) {
      this.res.on('drain', attempt.resume);
      return this.sendHead(upstream, undefined);
    }
    if (!rewrite.holdHead && !this.sendHead(upstream, rewrite)) return false;
    this.relayRewrite(attempt, upstream, rewrite);
    return true;
  }

  /** A chunk of the upstream's body; false asks undici to pause until `resume`. */
  data(chunk: Buffer): boolean {
    if (this.done) return true;
    if (this.idle) this.idle.refresh();
    if (this.rewrite) return this.rewriteEnded || this.rewrite.body.write(chunk);
    if (this.bodyLeft > 0 && (this.bodyLeft -= chunk.length) === 0) {
      // The body's last bytes go out with its end, in one write: most answers are one chunk.
      this.lastChunk = chunk;
      return true;
    }
    return this.res.write(chunk);
  }

  /** The upstream's answer is complete. */
  end(trailers: Buffer[] | null): void {
    if (this.done) return; // declined
    if (this.rewrite) {
      if (!this.rewriteEnded) this.rewrite.body.end();
      return;
    }
    // Trailer fields end-to-end (RFC 9110 §6.5); node sends them on a chunked response.
    if (trailers && trailers.length > 0) this.res.addTrailers(downstreamHeaders(trailers));
    this.res.end(this.lastChunk, () => this.finish(this.res.statusCode));
  }

  /** The rewrite's output goes to the client; its head waits for the first bytes if held. */
  private relayRewrite(attempt: UpstreamAttempt, upstream: UpstreamHead, rewrite: ResponseRewrite) {
    const out = rewrite.body;
    out.on('drain', attempt.resume);
    out.on('error', (err) => this.fail(new UpstreamAbortedError({ cause: err })));
    if (rewrite.holdHead) {
      out.once('data', (first: Buffer) => {
        out.pause();
        if (!this.sendHead(upstream, rewrite)) return;
        this.res.write(first);
        out.pipe(this.res, { end: false });
      });
    } else out.pipe(this.res, { end: false });
    out.on('end', () => {
      if (!this.sendHead(upstream, rewrite)) return;
      // The rewrite may have ended before the upstream did (it refused an oversized answer):
      // what the upstream still sends is read by nobody.
      this.rewriteEnded = true;
      attempt.cancel();
      this.res.end(() => this.finish(this.res.statusCode));
    });
  }

  /** Sends the status line and headers once; false when they could not be sent. */
  private sendHead(upstream: UpstreamHead, rewrite: ResponseRewrite | undefined): boolean {
    if (this.headSent) return true;
    this.headSent = true;
    const { status, headers } = responseHead(upstream, rewrite);
    const contentType = headers['content-type'];
    const eventStream = isEventStreamMediaType(
      typeof contentType === 'number' ? undefined : contentType,
    );
    try {
      if (upstream.statusText && status === upstream.status) {
        this.res.writeHead(status, upstream.statusText, headers);
      } else this.res.writeHead(status, headers);
    } catch (err) {
      const tried = [...this.tried, this.lastUrl?.origin ?? ''];
      this.fail(new UpstreamUnavailableError(tried, { cause: err }));
      return false;
    }
    if (!rewrite && typeof headers['content-length'] === 'string') {
      this.bodyLeft = Number(headers['content-length']);
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

/** The head for the client, as a rewrite makes it. */
function responseHead(upstream: ResponseHead, rewrite: ResponseRewrite | undefined): ResponseHead {
  if (!rewrite) return upstream;
  const headers = { ...upstream.headers };
  delete headers['content-length'];
  return rewrite.head({ status: upstream.status, headers });
}
