/** What one forwarded request is given and what it comes to (`forward.ts`, `exchange.ts`). */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import type { UpstreamError } from './errors.js';

export interface ForwardOptions {
  /** The route's upstreams (`to`, parsed once per route: `upstreamBases`). */
  readonly upstreams: readonly URL[];
  /** The request target (path and query) to send to one of them (`upstreamPath`). */
  readonly path: (upstream: URL) => string;
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
  readonly onResponse?: (upstream: UpstreamHead) => ResponseRewrite | undefined;
  /** Gateway errors are JSON-RPC errors (code -32603) rather than plain JSON. */
  readonly isMcpPost: boolean;
  /**
   * An answer the caller handles itself (an upstream's 401 to the gateway's upstream token):
   * true, and it is drained and dropped, nothing reaches the client, and the result carries it
   * as `declined` so the caller can answer or forward again (the body must be replayable).
   */
  readonly decline?: (upstream: UpstreamHead) => boolean;
}

/** The upstream's status line and the fields the client may see (`downstreamHeaders`). */
export interface UpstreamHead {
  readonly status: number;
  readonly statusText: string;
  readonly headers: IncomingHttpHeaders;
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
  /** The upstream (its `to`) that answered, or was last tried. */
  readonly upstream: URL | undefined;
  readonly error: UpstreamError | undefined;
  readonly clientClosed: boolean;
  /** The upstream's answer that `decline` took: nothing was sent to the client. */
  readonly declined?: DeclinedAnswer;
}

export interface DeclinedAnswer {
  readonly status: number;
  readonly wwwAuthenticate: string | undefined;
}
