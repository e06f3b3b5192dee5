/**
 * What a client sent to the in-process gateway, seen from the server side through Node's HTTP
 * diagnostics channels, so clients running as child processes are observed without a proxy in
 * the way (a proxy would change the origin, and with it the OAuth issuer). Form and JSON bodies
 * of the OAuth endpoints are copied as the parser pushes them; the gateway still reads them.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface LoggedRequest {
  readonly at: number;
  readonly method: string;
  /** Path and query. */
  readonly url: string;
  readonly status: number;
  /** The `Authorization` scheme sent, if any (`Bearer`). */
  readonly auth: string | undefined;
  /** The response's `WWW-Authenticate`, if any. */
  readonly challenge: string | undefined;
  /** The request body, for the OAuth endpoints (`/register`, `/token`, `/revoke`). */
  readonly body: string | undefined;
}

export interface RequestLog {
  readonly entries: readonly LoggedRequest[];
  /** Entries from index `mark` on (take a mark with `entries.length`). */
  since(mark: number): LoggedRequest[];
  /** The token endpoint's requests from `mark` on, parsed. */
  tokenRequests(mark?: number): { params: URLSearchParams; status: number; at: number }[];
  /** One line per entry, for assertion messages and reports. */
  describe(mark?: number): string;
  stop(): void;
}

const BODY_PATHS = /\/\.pomerium\/mcp\/(register|token|revoke)$/;

interface StartMessage {
  request: IncomingMessage;
}
interface FinishMessage {
  request: IncomingMessage;
  response: ServerResponse;
}

/** Records every request the HTTP server on `port` (in this process) answers. */
export function recordRequests(port: number): RequestLog {
  const entries: LoggedRequest[] = [];
  const bodies = new WeakMap<IncomingMessage, Buffer[]>();
  const ours = (req: IncomingMessage) => req.socket.localPort === port;

  const onStart = (message: unknown) => {
    const { request } = message as StartMessage;
    if (!ours(request) || !BODY_PATHS.test((request.url ?? '').split('?')[0] ?? '')) return;
    const chunks: Buffer[] = [];
    bodies.set(request, chunks);
    const push = request.push.bind(request);
    request.push = (chunk: unknown, encoding?: BufferEncoding) => {
      if (chunk !== null && chunk !== undefined) chunks.push(Buffer.from(chunk as Buffer));
      return push(chunk, encoding);
    };
  };
  const onFinish = (message: unknown) => {
    const { request, response } = message as FinishMessage;
    if (!ours(request)) return;
    const chunks = bodies.get(request);
    const challenge = response.getHeader('www-authenticate');
    entries.push({
      at: Date.now(),
      method: request.method ?? '',
      url: request.url ?? '',
      status: response.statusCode,
      auth: request.headers.authorization?.split(' ')[0],
      challenge: challenge === undefined ? undefined : String(challenge),
      body: chunks && Buffer.concat(chunks).toString('utf8'),
    });
  };
  subscribe('http.server.request.start', onStart);
  subscribe('http.server.response.finish', onFinish);

  const since = (mark = 0) => entries.slice(mark);
  return {
    entries,
    since,
    tokenRequests: (mark = 0) =>
      since(mark)
        .filter((e) => e.method === 'POST' && e.url.endsWith('/.pomerium/mcp/token'))
        .map((e) => ({ params: new URLSearchParams(e.body ?? ''), status: e.status, at: e.at })),
    describe: (mark = 0) =>
      since(mark)
        .map((e) => {
          const auth = e.auth ? ` [${e.auth}]` : '';
          const body = e.body ? ` ${e.body.replace(/(code|token|verifier)=[^&]+/g, '$1=…')}` : '';
          const challenge = e.challenge ? ` (WWW-Authenticate: ${e.challenge})` : '';
          return `${e.method} ${e.url}${auth} → ${e.status}${challenge}${body}`;
        })
        .join('\n'),
    stop: () => {
      unsubscribe('http.server.request.start', onStart);
      unsubscribe('http.server.response.finish', onFinish);
    },
  };
}
