/**
 * A bare JSON-RPC (MCP-shaped) upstream on node:http for gateway tests. It records every request
 * it receives, answers `tools/list` with four tools and echoes `tools/call`, in JSON or as an SSE
 * stream, and can hold an SSE stream open for a test to write to.
 */
import { once } from 'node:events';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';

export const UPSTREAM_TOOLS = ['read', 'update', 'delete_all', 'echo'] as const;

export interface RecordedRequest {
  readonly method: string;
  /** The request target as received (path and query). */
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/**
 * How answers are framed: `auto` sends SSE when the request's Accept names text/event-stream and
 * not application/json, JSON otherwise.
 */
export type AnswerMode = 'auto' | 'json' | 'sse';

/** An SSE response the upstream keeps open until the test ends it. */
export interface HeldStream {
  readonly request: RecordedRequest;
  /** Writes one event (`data` is JSON-encoded). */
  send(data: unknown, fields?: { event?: string; id?: string }): void;
  /** Writes raw bytes (comments, odd framing). */
  write(raw: string): void;
  end(): void;
  /** Resolves when the connection closes; `aborted` when that happened before `end()`. */
  readonly closed: Promise<{ aborted: boolean }>;
}

export interface JsonRpcUpstream {
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** How the next answers are framed. */
  mode: AnswerMode;
  /** Hold every SSE answer open (after its first events) instead of ending it. */
  hold: boolean;
  /** Extra headers on every answer (they win over the upstream's own, Content-Type included). */
  responseHeaders: Record<string, string | string[]>;
  /** Resolves with the next held stream (one already open and not yet taken first). */
  nextHeldStream(timeoutMs?: number): Promise<HeldStream>;
  /** Forgets recorded requests. */
  reset(): void;
  /** Forgets recorded requests and restores the defaults: mode `auto`, no hold, no extra headers. */
  fresh(): void;
  close(): Promise<void>;
}

export async function startJsonRpcUpstream(): Promise<JsonRpcUpstream> {
  const held: HeldStream[] = [];
  const waiters: ((s: HeldStream) => void)[] = [];
  const offer = (stream: HeldStream) => {
    const waiter = waiters.shift();
    if (waiter) waiter(stream);
    else held.push(stream);
  };

  const upstream: JsonRpcUpstream = {
    url: '',
    requests: [],
    mode: 'auto',
    hold: false,
    responseHeaders: {},
    nextHeldStream(timeoutMs = 5_000) {
      const ready = held.shift();
      if (ready) return Promise.resolve(ready);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error('upstream: no held stream opened in time'));
        }, timeoutMs);
        const waiter = (s: HeldStream) => {
          clearTimeout(timer);
          resolve(s);
        };
        waiters.push(waiter);
      });
    },
    reset() {
      upstream.requests.length = 0;
    },
    fresh() {
      upstream.reset();
      upstream.mode = 'auto';
      upstream.hold = false;
      upstream.responseHeaders = {};
    },
    close: () => closeServer(server),
  };

  const server = createServer((req, res) => {
    void readBody(req).then((body) => {
      const recorded: RecordedRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body,
      };
      upstream.requests.push(recorded);
      answer(upstream, recorded, res, offer);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return Object.assign(upstream, { url: `http://127.0.0.1:${port}` });
}

function answer(
  upstream: JsonRpcUpstream,
  request: RecordedRequest,
  res: ServerResponse,
  offer: (s: HeldStream) => void,
): void {
  const accept = request.headers.accept ?? '';
  const sse =
    upstream.mode === 'sse' ||
    (upstream.mode === 'auto' &&
      accept.includes('text/event-stream') &&
      !accept.includes('application/json'));
  const headers = { ...upstream.responseHeaders };
  // A GET is MCP's standalone server-to-client stream: always SSE, always held.
  if (request.method === 'GET' && sse) {
    openStream(res, headers);
    offer(heldStream(request, res));
    return;
  }
  let reply: unknown;
  try {
    reply = replyTo(JSON.parse(request.body) as unknown);
  } catch {
    reply = { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } };
  }
  if (reply === undefined) {
    // Only notifications or responses: MCP Streamable HTTP answers 202 with no body.
    res.writeHead(202, headers);
    res.end();
    return;
  }
  if (!sse) {
    const text = JSON.stringify(reply);
    res.writeHead(200, {
      'content-type': 'application/json',
      ...headers,
      'content-length': Buffer.byteLength(text),
    });
    res.end(text);
    return;
  }
  openStream(res, headers);
  // A notification and a comment first: they must pass the gateway untouched.
  res.write(': upstream comment\n\n');
  res.write(
    `event: message\ndata: ${JSON.stringify({
      jsonrpc: '2.0',
      method: 'notifications/message',
      params: { level: 'info', data: 'working' },
    })}\n\n`,
  );
  res.write(`event: message\nid: 1\ndata: ${JSON.stringify(reply)}\n\n`);
  if (upstream.hold) offer(heldStream(request, res));
  else res.end();
}

function openStream(res: ServerResponse, headers: Record<string, string | string[]>): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    ...headers,
  });
  res.flushHeaders();
}

function heldStream(request: RecordedRequest, res: ServerResponse): HeldStream {
  let ended = false;
  const closed = new Promise<{ aborted: boolean }>((resolve) => {
    res.on('close', () => resolve({ aborted: !ended || !res.writableFinished }));
  });
  return {
    request,
    send(data, fields = {}) {
      const lines = [
        fields.event === undefined ? '' : `event: ${fields.event}\n`,
        fields.id === undefined ? '' : `id: ${fields.id}\n`,
        `data: ${JSON.stringify(data)}\n\n`,
      ];
      res.write(lines.join(''));
    },
    write: (raw) => void res.write(raw),
    end() {
      ended = true;
      res.end();
    },
    closed,
  };
}

/** The answer to one message or a batch (notifications and responses get none). */
function replyTo(message: unknown): unknown {
  if (Array.isArray(message)) return message.map(replyTo).filter((r) => r !== undefined);
  const m = message as { id?: unknown; method?: unknown; params?: Record<string, unknown> };
  if (m.id === undefined || typeof m.method !== 'string') return undefined;
  const ok = (result: unknown) => ({ jsonrpc: '2.0', id: m.id, result });
  switch (m.method) {
    case 'tools/list':
      return ok({
        tools: UPSTREAM_TOOLS.map((name) => ({
          name,
          description: `the ${name} tool`,
          inputSchema: { type: 'object' },
        })),
      });
    case 'tools/call':
      return ok({
        content: [{ type: 'text', text: JSON.stringify(m.params ?? {}) }],
      });
    default:
      return ok({});
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of req) chunks.push(chunk as Buffer);
  } catch {
    // The client went away mid-body: record what arrived.
  }
  return Buffer.concat(chunks).toString('utf8');
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
