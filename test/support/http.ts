import { request, type OutgoingHttpHeaders } from 'node:http';
import { connect } from 'node:net';

export interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

export interface RawRequest {
  readonly method?: string;
  readonly path?: string;
  /** Sent as given; node:http adds Host (see `setHost`) and nothing else. */
  readonly headers?: OutgoingHttpHeaders;
  /** Sent with Content-Length; an array is sent chunk by chunk without it (chunked encoding). */
  readonly body?: string | readonly string[];
  /** False leaves the Host header out unless `headers` has one. */
  readonly setHost?: boolean;
  readonly signal?: AbortSignal;
}

/**
 * One HTTP request over node:http, so tests control every header (Host, Origin,
 * Transfer-Encoding), which `fetch` does not allow.
 */
export function rawRequest(base: string, options: RawRequest = {}): Promise<RawResponse> {
  const url = new URL(options.path ?? '/', base);
  const chunked = Array.isArray(options.body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method: options.method ?? 'POST',
        headers: options.headers,
        setHost: options.setHost ?? true,
        agent: false,
        ...(options.signal ? { signal: options.signal } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    req.on('error', reject);
    if (chunked) {
      for (const chunk of options.body as readonly string[]) req.write(chunk);
      req.end();
    } else if (typeof options.body === 'string') {
      req.setHeader('content-length', Buffer.byteLength(options.body));
      req.end(options.body);
    } else {
      req.end();
    }
  });
}

/** The JSON-RPC messages carried by an SSE body (`data:` lines of `message` events). */
export function sseMessages(body: string): unknown[] {
  return body
    .split(/\r?\n\r?\n/)
    .filter((event) => event.trim() !== '')
    .map((event) => {
      const data = event
        .split(/\r?\n/)
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).trimStart())
        .join('\n');
      return JSON.parse(data) as unknown;
    });
}

/** Writes `payload` on a fresh TCP connection and returns what came back before it closed. */
export function rawExchange(
  port: string | number,
  payload: string | Buffer,
  holdMs = 0,
): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect(Number(port), '127.0.0.1', () => {
      socket.write(payload);
      if (holdMs > 0) setTimeout(() => socket.destroy(), holdMs);
    });
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => {});
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
  });
}
