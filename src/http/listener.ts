import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { bindFailure } from '../config/address.js';
import type { Config, EdgeLimits, ListenerSetting } from '../config/types.js';
import { armBodyDeadline, type TimeoutAnswer } from '../core/body-deadline.js';
import { parseHost } from '../proxy/match.js';
import { followDefaultCertificate, tlsServerOptions } from '../tls/serve.js';
import type { CertificateStore } from '../tls/store.js';
import { capConnectionsPerAddress } from './connection-cap.js';
import { sendOAuthError } from '../core/respond.js';
import { TaggedResponse } from './tagged-response.js';

export interface ListenOptions {
  /** Peers exempt from the per-address connection cap (proxies carry many clients). */
  readonly trustedProxy?: (address: string) => boolean;
  /** Told when a client address reaches `max_connections_per_address`. */
  readonly onCapped?: (address: string) => void;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Binds `listener.address` with the edge's limits (`timeout_read`, `timeout_idle`,
 * `max_connections_per_address`): HTTPS with the certificates of `certificates` (chosen by
 * SNI, followed as the store changes), else plain HTTP. Every listener of the gateway, the
 * `http_redirect_addr` one included, is made here, so none escapes the limits. An address that
 * cannot be bound (taken, privileged) is its setting's error (`bindFailure`), not a stack trace.
 */
export async function listen(
  config: Config,
  listener: ListenerSetting,
  certificates: CertificateStore | null,
  handler: Handler,
  options: ListenOptions = {},
): Promise<Server> {
  const { readTimeoutMs } = config.edge;
  const timed: Handler = (req, res) => {
    armBodyDeadline(req, res, readTimeoutMs, answerTimeout);
    handler(req, res);
  };
  const serverOptions = serverTimeouts(config.edge);
  let server: Server;
  if (certificates) {
    const https = createHttpsServer(
      {
        ...tlsServerOptions(certificates),
        // Node's default is 120 s: a client that opens a connection and stalls the handshake
        // would hold it four times longer than one that stalls its headers.
        ...(readTimeoutMs > 0 ? { handshakeTimeout: readTimeoutMs } : {}),
        ...serverOptions,
      },
      timed,
    );
    const unfollow = followDefaultCertificate(https, certificates);
    https.once('close', unfollow);
    server = https;
  } else {
    server = createHttpServer(serverOptions, timed);
  }
  capConnectionsPerAddress(server, {
    max: config.edge.maxConnectionsPerAddress,
    exempt: options.trustedProxy ?? (() => false),
    onCapped: options.onCapped,
  });
  const { address } = listener;
  const host =
    address.host === '' ? undefined : (parseHost(address.host)?.hostname ?? address.host);
  await new Promise<void>((resolve, reject) => {
    const failed = (err: Error) => reject(bindFailure(err, address, listener.at));
    server.once('error', failed);
    server.listen(address.port, host, () => {
      server.off('error', failed);
      resolve();
    });
  });
  return server;
}

/**
 * Node's own limits: headers must arrive within `timeout_read` (node answers 408 and closes), a
 * keep-alive connection idles at most `timeout_idle`. There is no whole-request timeout
 * (`requestTimeout` 0): it would cut long uploads; bodies get `armBodyDeadline` instead, and
 * responses (SSE streams) are never limited here.
 */
function serverTimeouts(edge: EdgeLimits) {
  return {
    // Every answer carries its request's id, added as its head goes out (`TaggedResponse`).
    ServerResponse: TaggedResponse,
    requestTimeout: 0,
    headersTimeout: edge.readTimeoutMs,
    keepAliveTimeout: edge.idleTimeoutMs,
    // How often node looks for connections past headersTimeout (its default is 30 s).
    connectionsCheckingInterval:
      edge.readTimeoutMs > 0 ? Math.min(30_000, Math.max(50, edge.readTimeoutMs / 4)) : 30_000,
  };
}

/** RFC 9110 §15.5.9: the body did not arrive in time; the connection is closed after this. */
const answerTimeout: TimeoutAnswer = (res, afterMs) =>
  sendOAuthError(
    res,
    408,
    {
      error: 'invalid_request',
      error_description: `the request body did not arrive within ${afterMs} ms`,
    },
    { connection: 'close' },
  );

/** Stops accepting, closes idle connections now and any still open after 10 s. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), 10_000).unref();
  });
}
