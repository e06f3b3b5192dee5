import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { Agent } from 'undici';
import { createBalancer } from './balance.js';
import { Exchange, type ExchangeSettings } from './exchange.js';
import type { ForwardOptions, ForwardResult } from './forward-options.js';

export interface ForwarderOptions {
  readonly logger: Logger;
  /**
   * Connections per upstream origin. SSE streams hold one each for their lifetime, so the
   * default is high (1024); a request queued behind a full pool still fails after the connect
   * timeout instead of hanging.
   */
  readonly connections?: number;
  /**
   * How long an idle connection is kept for reuse. Default 4 s, ahead of a typical 5 s
   * server-side keep-alive timeout; an upstream's `Keep-Alive: timeout` hint, less undici's
   * 2 s margin, wins when it is shorter.
   */
  readonly keepAliveTimeoutMs?: number;
  /** Time to get a connected socket (queueing for one included). Default 10 s. */
  readonly connectTimeoutMs?: number;
  /** How long an upstream that refused a connection is tried last. Default 5 s. */
  readonly ejectMs?: number;
}

export type {
  DeclinedAnswer,
  ForwardOptions,
  ForwardResult,
  ResponseHead,
  ResponseRewrite,
  UpstreamHead,
} from './forward-options.js';

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

export function createForwarder(options: ForwarderOptions): Forwarder {
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  const keepAliveTimeout = options.keepAliveTimeoutMs ?? 4000;
  const dispatcher = new Agent({
    connections: options.connections ?? 1024,
    pipelining: 1,
    keepAliveTimeout,
    keepAliveMaxTimeout: keepAliveTimeout,
    // The exchange keeps the route's deadlines itself: an MCP stream may stay quiet for hours.
    headersTimeout: 0,
    bodyTimeout: 0,
    connect: { timeout: connectTimeoutMs },
  });
  const settings: ExchangeSettings = {
    logger: options.logger,
    dispatcher,
    connectTimeoutMs,
    balancer: createBalancer(options.ejectMs ?? 5000),
  };
  return {
    forward: (req, res, o) =>
      new Promise((resolve) => new Exchange(settings, req, res, o, resolve).start()),
    close() {
      void dispatcher.destroy();
    },
  };
}
