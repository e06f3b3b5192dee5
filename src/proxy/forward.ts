import {
  Agent as HttpAgent,
  type AgentOptions,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { Logger } from 'pino';
import { createBalancer } from './balance.js';
import { Exchange, type ExchangeSettings } from './exchange.js';
import type {
  DeclinedAnswer,
  ForwardOptions,
  ForwardResult,
  ResponseHead,
  ResponseRewrite,
} from './forward-options.js';

export interface ForwarderOptions {
  readonly logger: Logger;
  /** Merged over the defaults below; applies to the http and the https pool alike. */
  readonly agentOptions?: AgentOptions;
  /** Time to get a connected socket (queueing for one included). Default 10 s. */
  readonly connectTimeoutMs?: number;
  /** How long an upstream that refused a connection is tried last. Default 5 s. */
  readonly ejectMs?: number;
}

export type { DeclinedAnswer, ForwardOptions, ForwardResult, ResponseHead, ResponseRewrite };

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

export function createForwarder(options: ForwarderOptions): Forwarder {
  const agentOptions = { ...DEFAULT_AGENT, ...options.agentOptions };
  const pools = { http: new HttpAgent(agentOptions), https: new HttpsAgent(agentOptions) };
  const settings: ExchangeSettings = {
    logger: options.logger,
    pools,
    connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
    balancer: createBalancer(options.ejectMs ?? 5000),
  };
  return {
    forward: (req, res, o) =>
      new Promise((resolve) => new Exchange(settings, req, res, o, resolve).start()),
    close() {
      pools.http.destroy();
      pools.https.destroy();
    },
  };
}
