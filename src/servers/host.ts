import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { ErrorCode } from '@modelcontextprotocol/sdk/types.js';
import { McpEndpoint, type McpCallInfo } from './mcp-endpoint.js';
import { readBody } from '../core/body.js';
import { ConfigError } from '../core/errors.js';
import { isJsonMediaType } from '../core/media-type.js';
import { sendJson, sendJsonRpcError } from '../core/respond.js';
import {
  hostConfigFromEnv,
  isAllowedHost,
  isAllowedOrigin,
  type HostConfig,
} from './host-config.js';
import { listenAll } from './listen.js';
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
 * Builds every server. A setting one rejects (`ConfigError`) stops the start, as the host's own
 * settings do: the operator's input is wrong, and running without the server would hide it. A
 * server that fails otherwise (its database cannot be opened) is logged and left out.
 */
async function mountServers(
  ctx: ServerContext,
  factories: readonly ServerFactory[],
): Promise<Map<string, Mounted>> {
  const mounted = new Map<string, Mounted>();
  for (const factory of factories) {
    try {
      const server = await factory(ctx);
      if (!server) continue;
      mounted.set(server.path, { server, endpoint: await McpEndpoint.connect(server.mcp) });
      ctx.logger.info({ server: server.name, path: server.path }, 'server started');
    } catch (err) {
      if (err instanceof ConfigError) {
        await closeServers(mounted, ctx.logger);
        throw err;
      }
      ctx.logger.error({ err, factory: factory.name }, 'server could not start and is left out');
    }
  }
  return mounted;
}

/** Frees what the servers hold (query processes): nothing may keep a failed start alive. */
async function closeServers(mounted: ReadonlyMap<string, Mounted>, logger: Logger): Promise<void> {
  for (const { server, endpoint } of mounted.values()) {
    await endpoint.close().catch(() => {});
    await server.close().catch((err: unknown) => logger.warn({ err }, 'server close failed'));
  }
}

/** In-flight responses, so a shutdown lets them finish and then frees idle keep-alive sockets. */
class Drain {
  draining = false;
  readonly inflight = new Set<ServerResponse>();
  listeners: readonly Server[] = [];

  track(res: ServerResponse): void {
    this.inflight.add(res);
    res.once('close', () => {
      this.inflight.delete(res);
      // A keep-alive socket whose last response just ended would otherwise hold the drain open
      // until the shutdown timeout; once idle (next tick) it can go.
      if (this.draining)
        setImmediate(() => this.listeners.forEach((s) => s.closeIdleConnections()));
    });
    if (this.draining) res.setHeader('connection', 'close');
  }

  /** Stops accepting, waits for in-flight requests up to `timeoutMs`, then cuts the rest. */
  async stop(timeoutMs: number, logger: Logger): Promise<void> {
    this.draining = true;
    const stopped = Promise.all(
      this.listeners.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
    );
    for (const s of this.listeners) s.closeIdleConnections();
    const deadline = setTimeout(() => {
      logger.warn({ inflight: this.inflight.size }, 'shutdown timeout: closing open connections');
      for (const s of this.listeners) s.closeAllConnections();
    }, timeoutMs);
    await stopped;
    clearTimeout(deadline);
  }
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
  const mounted = await mountServers(ctx, factories);
  const drain = new Drain();
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    drain.track(res);
    handleRequest(config, mounted, logger, req, res).catch((err: unknown) => {
      logger.error({ err }, 'unhandled error while answering a request');
      sendJsonRpcError(res, 500, {
        id: null,
        code: ErrorCode.InternalError,
        message: 'Internal error',
      });
    });
  };

  try {
    drain.listeners = await listenAll(handler, config.host, config.port);
  } catch (err) {
    await closeServers(mounted, logger);
    throw err;
  }
  const address = drain.listeners[0]!.address() as AddressInfo;
  const hostPart = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${hostPart}:${address.port}`;
  logger.info({ url, servers: [...mounted.keys()] }, 'servers host listening');

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      await drain.stop(config.shutdownTimeoutMs, logger);
      await closeServers(mounted, logger);
      logger.info('servers host stopped');
    })());

  return {
    url,
    port: address.port,
    servers: [...mounted.values()].map((m) => m.server.name),
    close,
  };
}

/** One access-log line per request, written when its response closes. */
function logOnClose(
  logger: Logger,
  req: IncomingMessage,
  res: ServerResponse,
  fields: { requestId: string; path: string; target: Mounted | undefined; info: McpCallInfo },
): void {
  const started = process.hrtime.bigint();
  res.once('close', () => {
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    logger.info(
      {
        req_id: fields.requestId,
        http_method: req.method,
        path: fields.path,
        status: res.statusCode,
        ...(res.writableFinished ? {} : { aborted: true }),
        ms: Math.round(ms * 100) / 100,
        server: fields.target?.server.name,
        mcp_method: fields.info.method,
        tool: fields.info.tool,
      },
      'request',
    );
  });
}

/** A refusal as the host answers it: a JSON-RPC error with no id (JSON-RPC 2.0 §5). */
interface Refusal {
  readonly status: number;
  readonly message: string;
  readonly code?: number;
  readonly headers?: Record<string, string>;
}

function refuse(res: ServerResponse, refusal: Refusal): void {
  const { status, message, code = ErrorCode.InvalidRequest, headers } = refusal;
  sendJsonRpcError(res, status, { id: null, code, message }, headers);
}

/** Who may call at all (health checks included); undefined: go on. */
function checkCaller(config: HostConfig, req: IncomingMessage): Refusal | undefined {
  if (!isAllowedHost(config, req.headers.host)) {
    return { status: 403, message: 'Forbidden: Host header is not allowed' };
  }
  const origin = req.headers.origin;
  // MCP "Transports" (Security Warning): servers MUST validate Origin (DNS rebinding).
  if (origin !== undefined && !isAllowedOrigin(config, origin)) {
    return { status: 403, message: 'Forbidden: Origin is not allowed' };
  }
  return undefined;
}

/** What an MCP request must be before its body is read; undefined: go on. */
function checkMcpRequest(req: IncomingMessage, target: Mounted | undefined): Refusal | undefined {
  if (!target) return { status: 404, message: 'Not Found' };
  if (req.method !== 'POST') {
    // MCP "Transports": a server that offers no SSE stream answers GET with 405; stateless
    // servers have no sessions to DELETE.
    return { status: 405, message: 'Method Not Allowed', headers: { allow: 'POST' } };
  }
  if (!isJsonMediaType(req.headers['content-type'])) {
    return {
      status: 415,
      message: 'Unsupported Media Type: Content-Type must be application/json',
    };
  }
  return undefined;
}

/** The body parsed as JSON, or the refusal; undefined when the client hung up mid-body. */
async function readJson(
  req: IncomingMessage,
  limit: number,
): Promise<{ json: unknown } | { refusal: Refusal } | undefined> {
  const read = await readBody(req, limit);
  if (!read.ok) {
    if (read.reason === 'aborted') return undefined; // nobody left to answer
    return {
      refusal: {
        status: 413,
        message: `Payload Too Large: request body exceeds ${read.limit} bytes`,
        // The rest of the body is left unread, so the connection cannot be reused.
        headers: { connection: 'close' },
      },
    };
  }
  try {
    return { json: JSON.parse(read.body.toString('utf8')) };
  } catch {
    const message = 'Parse error: the body is not valid JSON';
    return { refusal: { status: 400, code: ErrorCode.ParseError, message } };
  }
}

async function handleRequest(
  config: HostConfig,
  mounted: ReadonlyMap<string, Mounted>,
  logger: Logger,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const requestId = requestIdOf(req);
  res.setHeader('x-request-id', requestId);
  const path = (req.url ?? '/').split('?')[0]!;
  const target = mounted.get(path);
  const info: McpCallInfo = {};
  logOnClose(logger, req, res, { requestId, path, target, info });

  const refusal = checkCaller(config, req);
  if (refusal) return refuse(res, refusal);
  if (path === '/healthz' && (req.method === 'GET' || req.method === 'HEAD')) {
    return sendJson(res, 200, { status: 'ok', servers: [...mounted.keys()] });
  }
  const notServed = checkMcpRequest(req, target);
  if (notServed || !target) return refuse(res, notServed ?? { status: 404, message: 'Not Found' });
  const read = await readJson(req, config.maxRequestBytes);
  if (read === undefined) return;
  if ('refusal' in read) return refuse(res, read.refusal);
  target.endpoint.handlePost(req, res, read.json, info, {
    requestInfo: { headers: req.headers },
  });
}

function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID();
}
