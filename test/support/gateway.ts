/**
 * A real gateway for end-to-end tests: started from YAML through `parseConfig`, logging to
 * memory, with browser sign-in over HTTP (cookie jar) and raw MCP POSTs.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { request, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { pino, type Logger } from 'pino';
import { parseConfig } from '../../src/config/load.js';
import { startGateway, type Gateway } from '../../src/http/gateway.js';
import { CookieJar, follow, type Hop } from './cookie-jar.js';

export const SESSION_COOKIE = 'portcullis_session';

/** base64 of 32 bytes, fixed so a failing run can be replayed. */
export const TEST_SHARED_SECRET = 'c2hhcmVkLXNlY3JldC1mb3ItZ2F0ZXdheS10ZXN0cyE=';
export const TEST_COOKIE_SECRET = 'Y29va2llLXNlY3JldC1mb3ItZ2F0ZXdheS10ZXN0cyE=';

/**
 * The lines a test gateway's YAML starts with: listening on loopback `port` over plain HTTP,
 * the fixed secrets, the built-in identity provider. Storage and routes follow.
 */
export function gatewayYamlHead(port: number): string {
  return `address: 127.0.0.1:${port}
insecure_server: true
shared_secret: ${TEST_SHARED_SECRET}
cookie_secret: ${TEST_COOKIE_SECRET}
idp_provider: builtin`;
}

export interface LogCapture {
  readonly logger: Logger;
  /** Every line written so far, parsed. */
  lines(): Record<string, unknown>[];
  /** Every line written so far, as written. */
  text(): string;
}

/** A pino logger (level trace, so every line the gateway could write is seen) into memory. */
export function captureLogs(): LogCapture {
  const written: string[] = [];
  const logger = pino({ level: 'trace' }, { write: (line: string) => void written.push(line) });
  return {
    logger,
    lines: () => written.map((l) => JSON.parse(l) as Record<string, unknown>),
    text: () => written.join(''),
  };
}

/** A loopback port free a moment ago (the gateway's routes must name its port up front). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  assert.ok(address && typeof address === 'object');
  await new Promise((resolve) => server.close(resolve));
  return address.port;
}

export interface TestGateway {
  readonly gateway: Gateway;
  /** `http://localhost:<port>`: the host every test route is on. */
  readonly origin: string;
  readonly port: number;
  readonly logs: LogCapture;
  close(): Promise<void>;
}

/** Parses `yaml(port)` as the gateway's config file and starts the gateway on that port. */
export async function startTestGateway(yaml: (port: number) => string): Promise<TestGateway> {
  const port = await freePort();
  const { config } = parseConfig(yaml(port), 'gateway-test.yaml', {});
  const logs = captureLogs();
  const gateway = await startGateway({ config, logger: logs.logger });
  return {
    gateway,
    origin: `http://localhost:${port}`,
    port,
    logs,
    close: () => gateway.close(),
  };
}

/**
 * Signs in through the built-in provider as a browser would (GET / → provider → login form →
 * POST email and password → callback) and returns the session cookie's value.
 */
export async function signIn(origin: string, email: string, password: string): Promise<string> {
  const jar = new CookieJar();
  const toForm = await follow(jar, `${origin}/`);
  const form = toForm.at(-1) as Hop;
  assert.equal(form.status, 200, form.body);
  assert.match(form.url.pathname, /\/interaction\//);
  const hops = await follow(jar, form.url, { form: { email, password } });
  const last = hops.at(-1) as Hop;
  assert.equal(last.status, 200, `sign-in as ${email} ended with ${last.status}: ${last.body}`);
  const cookie = jar.get(new URL(origin).hostname, SESSION_COOKIE);
  assert.ok(cookie, `signed in as ${email}: no session cookie`);
  return cookie.value;
}

export interface Sent {
  readonly status: number;
  /** The reason phrase: MCP clients match on `Unauthorized`. */
  readonly statusMessage: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** The body as received, for bodies that are not UTF-8 text (a compressed answer). */
  readonly bytes: Buffer;
}

export interface SendOptions {
  readonly method?: string;
  /** Sent byte for byte: no URL parsing, so dot segments and escapes reach the gateway. */
  readonly path: string;
  readonly headers?: OutgoingHttpHeaders;
  /** Sent with Content-Length; an array goes chunk by chunk without one (chunked). */
  readonly body?: string | readonly string[];
  readonly signal?: AbortSignal;
  /** The client's own address (any 127.x.y.z on loopback), for per-address limits. */
  readonly localAddress?: string;
}

/** One request over node:http on a fresh connection, every header under the test's control. */
export function send(origin: string, options: SendOptions): Promise<Sent> {
  const url = new URL(origin);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: options.path,
        method: options.method ?? 'GET',
        headers: definedHeaders(options.headers),
        agent: false,
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.localAddress ? { localAddress: options.localAddress } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const bytes = Buffer.concat(chunks);
          resolve({
            status: res.statusCode ?? 0,
            statusMessage: res.statusMessage ?? '',
            headers: res.headers,
            body: bytes.toString('utf8'),
            bytes,
          });
        });
      },
    );
    req.on('error', reject);
    const { body } = options;
    if (Array.isArray(body)) {
      for (const chunk of body as readonly string[]) req.write(chunk);
      req.end();
    } else if (typeof body === 'string') {
      req.setHeader('content-length', Buffer.byteLength(body));
      req.end(body);
    } else {
      req.end();
    }
  });
}

function definedHeaders(headers: OutgoingHttpHeaders = {}): OutgoingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([, v]) => v !== undefined));
}

export interface SseEvent {
  /** The event's lines as received, without the blank line that ended it. */
  readonly raw: string;
  /** The `data` lines joined and JSON-parsed; undefined when there are none. */
  readonly data: unknown;
  /** `performance.now()` when the event was complete at the client. */
  readonly at: number;
}

export interface OpenStream {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** Every complete event so far. */
  readonly events: SseEvent[];
  /** The first event (received already or later) that `match` accepts. */
  next(match: (e: SseEvent) => boolean, timeoutMs?: number): Promise<SseEvent>;
  /** Resolves when the response ends or the connection is cut. */
  readonly ended: Promise<void>;
  readonly isEnded: () => boolean;
  /** Cuts the connection, as a client that goes away. */
  abort(): void;
}

/** Sends a request and reads its response as an SSE stream, event by event as it arrives. */
export function openStream(origin: string, options: SendOptions): Promise<OpenStream> {
  const url = new URL(origin);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: options.path,
        method: options.method ?? 'GET',
        headers: definedHeaders(options.headers),
        agent: false,
        ...(options.localAddress ? { localAddress: options.localAddress } : {}),
      },
      (res) => {
        const events: SseEvent[] = [];
        const waiters = new Set<() => void>();
        let buffer = '';
        let ended = false;
        res.setEncoding('utf8');
        res.on('data', (text: string) => {
          buffer += text;
          const blocks = buffer.split(/\r?\n\r?\n/);
          buffer = blocks.pop() ?? '';
          for (const raw of blocks) events.push(parseEvent(raw));
          for (const wake of waiters) wake();
        });
        const end = new Promise<void>((done) => {
          const finish = () => {
            ended = true;
            for (const wake of waiters) wake();
            done();
          };
          res.on('end', finish);
          res.on('close', finish);
          res.on('error', finish);
        });
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          events,
          ended: end,
          isEnded: () => ended,
          abort: () => req.destroy(),
          next(match, timeoutMs = 5_000) {
            return new Promise((found, fail) => {
              const check = () => {
                const event = events.find(match);
                if (event) {
                  cleanup();
                  found(event);
                } else if (ended) {
                  cleanup();
                  fail(new Error(`stream ended without the event; got ${JSON.stringify(events)}`));
                }
              };
              const timer = setTimeout(() => {
                cleanup();
                fail(new Error(`no such event in ${timeoutMs} ms; got ${JSON.stringify(events)}`));
              }, timeoutMs);
              const cleanup = () => {
                clearTimeout(timer);
                waiters.delete(check);
              };
              waiters.add(check);
              check();
            });
          },
        });
      },
    );
    req.on('error', reject);
    if (typeof options.body === 'string') {
      req.setHeader('content-length', Buffer.byteLength(options.body));
      req.end(options.body);
    } else {
      req.end();
    }
  });
}

function parseEvent(raw: string): SseEvent {
  const data = raw
    .split(/\r?\n/)
    .filter((line) => line.startsWith('data:'))
    .map((line) => line.slice(5).replace(/^ /, ''));
  let value: unknown;
  if (data.length > 0) {
    try {
      value = JSON.parse(data.join('\n'));
    } catch {
      value = data.join('\n');
    }
  }
  return { raw, data: value, at: performance.now() };
}

/** The session cookie header for a `signIn` value. */
export const cookie = (session: string) => ({ cookie: `${SESSION_COOKIE}=${session}` });

export interface McpPostOptions {
  /** The session cookie's value. */
  readonly session?: string;
  readonly headers?: OutgoingHttpHeaders;
  readonly signal?: AbortSignal;
}

/**
 * POSTs a JSON-RPC body (a value, JSON-encoded; or raw text) to `path` with the headers an MCP
 * client sends, plus `options.headers` (which win).
 */
export function mcpPost(
  origin: string,
  path: string,
  body: unknown,
  options: McpPostOptions = {},
): Promise<Sent> {
  return send(origin, {
    method: 'POST',
    path,
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...(options.session ? cookie(options.session) : {}),
      ...options.headers,
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: options.signal,
  });
}

/** A `tools/call` request. */
export const toolCall = (id: number | string, name: unknown, args: unknown = {}) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name, arguments: args },
});

/** The body of a JSON response. */
export function json(res: Sent): Record<string, unknown> {
  return JSON.parse(res.body) as Record<string, unknown>;
}
