/**
 * The metrics listener (`metrics_address`, Pomerium's key): a listener of its own, apart from
 * the gateway's, answering `GET /metrics` in Prometheus's text format and nothing else. With
 * `metrics_basic_auth` (Pomerium's: base64 of `user:pass`) every request must carry those
 * credentials (RFC 7617), compared in constant time; anything else is 401 with a challenge.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { bindFailure } from '../config/address.js';
import type { MetricsConfig } from '../config/types.js';
import { createMetrics } from './metrics.js';
import type { Observer } from './observer.js';

const digest = (bytes: Buffer) => createHash('sha256').update(bytes).digest();

/**
 * Whether an `Authorization` header carries the credentials `basicAuth` (base64 of
 * `user:pass`) names; always true without `basicAuth`. Both sides are decoded and hashed first,
 * so the comparison takes the same time whatever was sent (RFC 7617 §2).
 */
export function basicAuthCheck(basicAuth: string | null): (header: string | undefined) => boolean {
  if (basicAuth === null) return () => true;
  const expected = digest(Buffer.from(basicAuth, 'base64'));
  return (header) => {
    const m = /^Basic +([A-Za-z0-9+/=_-]+) *$/i.exec(header ?? '');
    const given = digest(Buffer.from(m?.[1] ?? '', 'base64'));
    return timingSafeEqual(given, expected) && m !== null;
  };
}

export interface MetricsListener {
  readonly url: string;
  readonly observer: Observer;
  close(): Promise<void>;
}

/** The metrics of a gateway with routes `routeNames`, served on `config.address`. */
export async function startMetrics(
  config: MetricsConfig,
  routeNames: readonly string[],
  logger: Logger,
): Promise<MetricsListener> {
  const { registry, observer } = createMetrics(routeNames);
  const authorized = basicAuthCheck(config.basicAuth);
  const server = createServer((req, res) => {
    serveMetrics(req, res, registry, authorized).catch((err: unknown) => {
      logger.error({ err }, 'metrics: could not collect');
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  });
  server.listen(config.address.port, config.address.host || undefined);
  // A port that cannot be bound is metrics_address's error (exit 78), not a stack trace.
  await once(server, 'listening').catch((err: unknown) => {
    throw bindFailure(err, config.address, config.at);
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  logger.info({ url: `${url}/metrics` }, 'metrics listening');
  return {
    url,
    observer,
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        // A scraper keeps its connection open between scrapes: closing must not wait for it.
        server.closeAllConnections();
      }),
  };
}

async function serveMetrics(
  req: IncomingMessage,
  res: ServerResponse,
  registry: Registry,
  authorized: (header: string | undefined) => boolean,
): Promise<void> {
  if (!authorized(req.headers.authorization)) {
    // RFC 7617 §2: the challenge names the scheme and a realm.
    res.writeHead(401, { 'www-authenticate': 'Basic realm="metrics", charset="UTF-8"' });
    return void res.end();
  }
  if ((req.url ?? '').split('?')[0] !== '/metrics') return void res.writeHead(404).end();
  if (req.method !== 'GET') return void res.writeHead(405, { allow: 'GET' }).end();
  const body = await registry.metrics();
  res.writeHead(200, {
    'content-type': registry.contentType,
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}
