import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { lookup } from 'node:dns/promises';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { ErrorCode } from '@modelcontextprotocol/sdk/types.js';
import { McpEndpoint, type McpCallInfo } from './mcp-endpoint.js';
import { BodyTooLargeError, isJsonContentType, readBody, sendJsonRpcError } from './http-util.js';
import {
  hostConfigFromEnv,
  isAllowedHost,
  isAllowedOrigin,
  type HostConfig,
} from './host-config.js';
import type { HostedServer, ServerContext, ServerFactory } from './types.js';

export interface ServersHost {
  /** Base URL on the first bound address, e.g. `http://127.0.0.1:8080`. */
  readonly url: string;
  readonly port: number;
  /** Names of the servers that started. */
  readonly servers: readonly string[];
  /** Stops accepting, lets in-flight requests finish (up to the shutdown timeout), frees servers. */
  close(): Promise<void>;
}

interface Mounted {
  readonly server: HostedServer;
  readonly endpoint: McpEndpoint;
}

/**
 * Starts the servers host: one HTTP process serving each MCP server at its exact path.
 * A server whose factory throws is logged with the reason and left out; the others run.
 */
export async function startServersHost(
  ctx: ServerContext,
  factories: readonly ServerFactory[],
): Promise<ServersHost> {
  const config = hostConfigFromEnv(ctx.env);
  const { logger } = ctx;
  const mounted = new Map<string, Mounted>();
  for (const factory of factories) {
    try {
      const server = await factory(ctx);
      if (!server) continue;
      mounted.set(server.path, { server, endpoint: await McpEndpoint.connect(server.mcp) });
      logger.info({ server: server.name, path: server.path }, 'server started');
    } catch (err) {
      logger.error({ err, factory: factory.name }, 'server could not start and is left out');
    }
  }

  let draining = false;
  const inflight = new Set<ServerResponse>();
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    inflight.add(res);
    res.once('close', () => {
      inflight.delete(res);
      // A keep-alive socket whose last response just ended would otherwise hold the drain open
      // until the shutdown timeout; once idle (next tick) it can go.
      if (draining) setImmediate(() => listeners.forEach((s) => s.closeIdleConnections()));
    });
    if (draining) res.setHeader('connection', 'close');
    handleRequest(config, mounted, logger, req, res).catch((err: unknown) => {
      logger.error({ err }, 'unhandled error while answering a request');
      sendJsonRpcError(res, 500, ErrorCode.InternalError, 'Internal error');
    });
  };

  const listeners = await listenAll(handler, config.host, config.port);
  const address = listeners[0]!.address() as AddressInfo;
  const hostPart = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${hostPart}:${address.port}`;
  logger.info({ url, servers: [...mounted.keys()] }, 'servers host listening');

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      draining = true;
      const stopped = Promise.all(
        listeners.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
      );
      for (const s of listeners) s.closeIdleConnections();
      const deadline = setTimeout(() => {
        logger.warn({ inflight: inflight.size }, 'shutdown timeout: closing open connections');
        for (const s of listeners) s.closeAllConnections();
      }, config.shutdownTimeoutMs);
      await stopped;
      clearTimeout(deadline);
      for (const { server, endpoint } of mounted.values()) {
        await endpoint.close().catch(() => {});
        await server.close().catch((err: unknown) => logger.warn({ err }, 'server close failed'));
      }
      logger.info('servers host stopped');
    })());

  return {
    url,
    port: address.port,
    servers: [...mounted.values()].map((m) => m.server.name),
    close,
  };
}

async function handleRequest(
  config: HostConfig,
  mounted: ReadonlyMap<string, Mounted>,
  logger: Logger,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const started = process.hrtime.bigint();
  const requestId = requestIdOf(req);
  res.setHeader('x-request-id', requestId);
  const path = (req.url ?? '/').split('?')[0]!;
  const target = mounted.get(path);
  const info: McpCallInfo = {};
  res.once('close', () => {
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    logger.info(
      {
        req_id: requestId,
        http_method: req.method,
        path,
        status: res.statusCode,
        ...(res.writableFinished ? {} : { aborted: true }),
        ms: Math.round(ms * 100) / 100,
        server: target?.server.name,
        mcp_method: info.method,
        tool: info.tool,
      },
      'request',
    );
  });

  if (!isAllowedHost(config, req.headers.host)) {
    sendJsonRpcError(res, 403, ErrorCode.InvalidRequest, 'Forbidden: Host header is not allowed');
    return;
  }
  const origin = req.headers.origin;
  if (origin !== undefined && !isAllowedOrigin(config, origin)) {
    sendJsonRpcError(res, 403, ErrorCode.InvalidRequest, 'Forbidden: Origin is not allowed');
    return;
  }
  if (path === '/healthz' && (req.method === 'GET' || req.method === 'HEAD')) {
    const payload = JSON.stringify({ status: 'ok', servers: [...mounted.keys()] });
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : payload);
    return;
  }
  if (!target) {
    sendJsonRpcError(res, 404, ErrorCode.InvalidRequest, 'Not Found');
    return;
  }
  if (req.method !== 'POST') {
    // MCP "Transports": a server that offers no SSE stream answers GET with 405; stateless
    // servers have no sessions to DELETE.
    sendJsonRpcError(res, 405, ErrorCode.InvalidRequest, 'Method Not Allowed', null, {
      allow: 'POST',
    });
    return;
  }
  if (!isJsonContentType(req.headers['content-type'])) {
    sendJsonRpcError(
      res,
      415,
      ErrorCode.InvalidRequest,
      'Unsupported Media Type: Content-Type must be application/json',
    );
    return;
  }

  let raw: Buffer;
  try {
    raw = await readBody(req, config.maxRequestBytes);
  } catch (err) {
    if (err instanceof BodyTooLargeError) {
      sendJsonRpcError(
        res,
        413,
        ErrorCode.InvalidRequest,
        `Payload Too Large: ${err.message}`,
        null,
        {
          connection: 'close',
        },
      );
      return;
    }
    throw err;
  }
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    sendJsonRpcError(res, 400, ErrorCode.ParseError, 'Parse error: the body is not valid JSON');
    return;
  }
  target.endpoint.handlePost(req, res, body, info, {
    requestInfo: { headers: req.headers },
  });
}

function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID();
}

/**
 * Listens on every address `host` resolves to (so `localhost` covers both 127.0.0.1 and
 * ::1), all on the same port.
 */
async function listenAll(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  host: string,
  port: number,
): Promise<Server[]> {
  const addresses = (await lookup(host, { all: true })).map((a) => a.address);
  const servers: Server[] = [];
  let boundPort = port;
  for (const address of [...new Set(addresses)]) {
    const server = createServer({ keepAliveTimeout: 65_000 }, handler);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(boundPort, address, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      // A second loopback family may be missing on the machine; the first must bind.
      if (servers.length === 0) throw err;
      continue;
    }
    boundPort = (server.address() as AddressInfo).port;
    servers.push(server);
  }
  return servers;
}
