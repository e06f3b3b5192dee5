import type { IncomingMessage, ServerResponse } from 'node:http';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type {
  Transport,
  TransportSendOptions,
} from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  ErrorCode,
  JSONRPCMessageSchema,
  SUPPORTED_PROTOCOL_VERSIONS,
  isJSONRPCErrorResponse,
  isJSONRPCNotification,
  isJSONRPCRequest,
  isJSONRPCResultResponse,
  type JSONRPCMessage,
  type MessageExtraInfo,
  type RequestId,
} from '@modelcontextprotocol/sdk/types.js';
import { listedMediaTypes } from '../core/media-type.js';
import { sendJsonRpcError } from '../core/respond.js';

/** What the host logs about one MCP POST. */
export interface McpCallInfo {
  method?: string;
  tool?: string;
}

interface Sink {
  /** Delivers one message for the request (its response or a related notification). */
  deliver(message: JSONRPCMessage, final: boolean): void;
}

interface Pending {
  readonly originalId: RequestId;
  readonly sink: Sink;
}

/**
 * A transport that lets one long-lived SDK server answer many concurrent stateless HTTP
 * requests. The SDK's own stateless pattern builds a new server and transport per request;
 * most of that cost (schema compilation, handler tables) is the same every time, so here the
 * server is built once and each request's messages are multiplexed through this transport.
 *
 * JSON-RPC ids from different clients collide (everyone starts at 0 or 1), so every incoming
 * request gets a process-unique id on the way in and its own id back on the way out.
 */
class MultiplexTransport implements Transport {
  onmessage?: (message: JSONRPCMessage, extra?: MessageExtraInfo) => void;
  onclose?: () => void;
  onerror?: (error: Error) => void;

  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  async start(): Promise<void> {}

  async close(): Promise<void> {
    this.pending.clear();
    this.onclose?.();
  }

  /** Hands a client request to the server; returns the internal id it runs under. */
  dispatch(
    message: JSONRPCMessage & { id: RequestId },
    sink: Sink,
    extra: MessageExtraInfo,
  ): number {
    const id = this.nextId++;
    this.pending.set(id, { originalId: message.id, sink });
    this.onmessage?.({ ...message, id } as JSONRPCMessage, extra);
    return id;
  }

  notify(message: JSONRPCMessage, extra: MessageExtraInfo): void {
    this.onmessage?.(message, extra);
  }

  /** Tells the server the client went away, which aborts the handler's signal. */
  cancel(id: number): void {
    if (!this.pending.delete(id)) return;
    this.onmessage?.({
      jsonrpc: '2.0',
      method: 'notifications/cancelled',
      params: { requestId: id, reason: 'client disconnected' },
    });
  }

  async send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    if (isJSONRPCResultResponse(message) || isJSONRPCErrorResponse(message)) {
      const id = typeof message.id === 'number' ? message.id : Number.NaN;
      const pending = this.pending.get(id);
      if (!pending) return; // cancelled: the client is gone
      this.pending.delete(id);
      pending.sink.deliver({ ...message, id: pending.originalId }, true);
      return;
    }
    const related = options?.relatedRequestId;
    const pending = typeof related === 'number' ? this.pending.get(related) : undefined;
    // A stateless server has no stream for messages unrelated to a request; they are dropped.
    if (pending && isJSONRPCNotification(message)) pending.sink.deliver(message, false);
  }
}

export interface McpEndpointOptions {
  /** Name for logs. */
  readonly name: string;
}

/**
 * Streamable HTTP (MCP 2025-11-25 "Transports") for one stateless server: POST carries
 * JSON-RPC messages and is answered with JSON or an SSE stream; GET and DELETE are 405
 * because a stateless server offers neither a standalone stream nor sessions.
 */
export class McpEndpoint {
  private readonly transport = new MultiplexTransport();

  private constructor(readonly server: McpServer) {}

  static async connect(server: McpServer): Promise<McpEndpoint> {
    const endpoint = new McpEndpoint(server);
    await server.connect(endpoint.transport);
    return endpoint;
  }

  async close(): Promise<void> {
    await this.server.close();
  }

  /**
   * Answers one POST whose body has already been read and parsed as JSON.
   * `info` is filled in for the access log.
   */
  handlePost(
    req: IncomingMessage,
    res: ServerResponse,
    body: unknown,
    info: McpCallInfo,
    extra: MessageExtraInfo,
  ): void {
    const mode = responseMode(req.headers.accept);
    if (mode === undefined) {
      const message =
        'Not Acceptable: the client must accept application/json or text/event-stream';
      return refuse(res, { status: 406, message });
    }
    const batch = Array.isArray(body);
    const parsed = parseMessages(batch ? body : [body]);
    if ('refusal' in parsed) return refuse(res, parsed.refusal);
    const { messages } = parsed;
    recordCall(info, messages[0]);
    const badVersion = checkProtocolVersion(req, messages);
    if (badVersion) return refuse(res, badVersion);

    const requests = messages.filter(isJSONRPCRequest);
    for (const m of messages) if (!isJSONRPCRequest(m)) this.handleNonRequest(m, extra);
    if (requests.length === 0) {
      res.writeHead(202).end();
      return;
    }

    const sink =
      mode === 'json' ? jsonSink(res, requests.length, batch) : sseSink(res, requests.length);
    const ids = requests.map((r) => this.transport.dispatch(r, sink, extra));
    res.once('close', () => {
      if (!res.writableFinished) for (const id of ids) this.transport.cancel(id);
    });
  }

  private handleNonRequest(message: JSONRPCMessage, extra: MessageExtraInfo): void {
    // Responses from the client would answer server-initiated requests, which a stateless
    // server never sends; client cancellations refer to ids this process never handed out.
    if (isJSONRPCNotification(message) && message.method !== 'notifications/cancelled') {
      this.transport.notify(message, extra);
    }
  }
}

/** A refusal of the whole POST: a JSON-RPC Invalid Request with the id when one was read. */
interface Refusal {
  readonly status: number;
  readonly message: string;
  readonly id?: RequestId | null;
}

function refuse(res: ServerResponse, { status, message, id = null }: Refusal): void {
  sendJsonRpcError(res, status, { id, code: ErrorCode.InvalidRequest, message });
}

/** Every item a JSON-RPC 2.0 message (an empty batch is invalid, JSON-RPC 2.0 §6). */
function parseMessages(
  raw: readonly unknown[],
): { messages: JSONRPCMessage[] } | { refusal: Refusal } {
  if (raw.length === 0)
    return { refusal: { status: 400, message: 'Invalid Request: empty batch' } };
  const messages: JSONRPCMessage[] = [];
  for (const item of raw) {
    const parsed = JSONRPCMessageSchema.safeParse(item);
    if (!parsed.success) {
      const message = 'Invalid Request: not a JSON-RPC 2.0 message';
      return { refusal: { status: 400, message, id: idOf(item) } };
    }
    messages.push(parsed.data);
  }
  return { messages };
}

/** The first message's method (and tool name) for the access log. */
function recordCall(info: McpCallInfo, first: JSONRPCMessage | undefined): void {
  if (!first || !('method' in first)) return;
  info.method = first.method;
  if (first.method === 'tools/call') {
    const name = (first.params as { name?: unknown } | undefined)?.name;
    if (typeof name === 'string') info.tool = name;
  }
}

/** MCP 2025-11-25 "Protocol Version Header": an unsupported version is a 400. */
function checkProtocolVersion(
  req: IncomingMessage,
  messages: readonly JSONRPCMessage[],
): Refusal | undefined {
  const isInit = messages.some((m) => isJSONRPCRequest(m) && m.method === 'initialize');
  const version = req.headers['mcp-protocol-version'];
  if (isInit || typeof version !== 'string' || SUPPORTED_PROTOCOL_VERSIONS.includes(version)) {
    return undefined;
  }
  const supported = SUPPORTED_PROTOCOL_VERSIONS.join(', ');
  const message = `Bad Request: unsupported protocol version ${JSON.stringify(version)} (supported: ${supported})`;
  return { status: 400, message };
}

/** JSON when the client takes it (preferred: cheaper and simpler), else SSE, else none. */
function responseMode(accept: string | undefined): 'json' | 'sse' | undefined {
  if (accept === undefined || accept.trim() === '') return 'json';
  const types = listedMediaTypes(accept);
  if (types.some((t) => t === 'application/json' || t === 'application/*' || t === '*/*')) {
    return 'json';
  }
  if (types.includes('text/event-stream')) return 'sse';
  return undefined;
}

function idOf(item: unknown): RequestId | null {
  const id = (item as { id?: unknown } | null)?.id;
  return typeof id === 'string' || typeof id === 'number' ? id : null;
}

function jsonSink(res: ServerResponse, expected: number, batch: boolean): Sink {
  const responses: JSONRPCMessage[] = [];
  return {
    deliver(message, final) {
      if (!final) return; // JSON responses carry no interim notifications
      responses.push(message);
      if (responses.length < expected || res.destroyed) return;
      const payload = JSON.stringify(batch ? responses : responses[0]);
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(payload),
      });
      res.end(payload);
    },
  };
}

function sseSink(res: ServerResponse, expected: number): Sink {
  let done = 0;
  return {
    deliver(message, final) {
      if (res.destroyed) return;
      if (!res.headersSent) {
        res.writeHead(200, {
          'content-type': 'text/event-stream',
          'cache-control': 'no-cache, no-transform',
          'x-accel-buffering': 'no',
        });
      }
      res.write(`event: message\ndata: ${JSON.stringify(message)}\n\n`);
      if (final && ++done === expected) res.end();
    },
  };
}
