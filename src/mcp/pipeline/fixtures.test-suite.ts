/**
 * What the pipeline's unit tests hand the steps, built the way the gateway builds it: routes
 * from config text through the config loader and the route matcher, the request facts through
 * `routeRequest`, and a request as the steps read one (its head and its body stream), no socket.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { parseConfig } from '../../config/load.js';
import type { RouteConfig } from '../../config/types.js';
import { compileRoutes, type RouteMatch } from '../../proxy/match.js';
import type { SessionRecord } from '../../storage/types.js';
import { routeRequest, type CallerRequest } from './context.js';

const SECRET = 'wC4RFsEdM1gHFzvRt3XW+iWw6Ddt/1kKkdh66OKxiqs=';

/** Host names the routes of `routesYaml` serve, in the listener's scheme (https). */
export const MCP_HOST = 'db.example.com';
export const PLAIN_HOST = 'app.example.com';

/**
 * A gateway config whose `routes:` list is `routesYaml` (indented as list items), validated by
 * the real loader; throws with every issue when the text is not a valid config.
 */
export function routesFrom(routesYaml: string): readonly RouteConfig[] {
  const text =
    `shared_secret: ${SECRET}\ncookie_secret: ${SECRET}\ninsecure_server: true\n` +
    `address: 127.0.0.1:8080\nroutes:\n${routesYaml}`;
  return parseConfig(text, 'pipeline.yaml', {}).config.routes;
}

/** The route the real matcher picks for `host` and `path` (https listener). */
export function matchRoute(routes: readonly RouteConfig[], host: string, path: string): RouteMatch {
  const match = compileRoutes(routes).match({ host, path }, 'https');
  if (!match) throw new Error(`no route for ${host}${path}`);
  return match;
}

export function session(over: Partial<SessionRecord> = {}): SessionRecord {
  return {
    idHash: 'a'.repeat(64),
    sub: 'u-bob',
    email: 'bob@example.com',
    name: 'Bob',
    groups: ['staff'],
    claims: { email: 'bob@example.com' },
    idpRefreshTokenEnc: null,
    idpIdTokenEnc: null,
    idpExpiresAt: 2_000_000_000_000,
    createdAt: 1_700_000_000_000,
    expiresAt: 2_000_000_000_000,
    ...over,
  };
}

export interface RequestShape {
  readonly method?: string;
  readonly url?: string;
  readonly headers?: IncomingHttpHeaders;
  /** The body's chunks as they arrive, or an error the stream fails with after them. */
  readonly body?: readonly (string | Buffer)[];
  readonly failWith?: Error;
}

/**
 * A request as the steps read one: `method`, `url`, `headers` and the body as a readable
 * stream. The steps touch nothing else of an `IncomingMessage` (the socket is the edge's).
 */
export function incoming(shape: RequestShape = {}): IncomingMessage {
  const chunks = (shape.body ?? []).map((c) => (typeof c === 'string' ? Buffer.from(c) : c));
  const failWith = shape.failWith;
  const stream = failWith
    ? new Readable({
        read() {
          for (const c of chunks.splice(0)) this.push(c);
          this.destroy(failWith);
        },
      })
    : Readable.from(chunks);
  const head = {
    method: shape.method ?? 'POST',
    url: shape.url ?? '/',
    headers: shape.headers ?? {},
  };
  return Object.assign(stream, head) as unknown as IncomingMessage;
}

/** The facts `routeRequest` takes from `req` on `match`, and the caller `session`. */
export function callerRequest(
  match: RouteMatch,
  req: IncomingMessage,
  caller: SessionRecord | undefined,
): CallerRequest {
  const path = (req.url ?? '/').split('?')[0]!;
  return { ...routeRequest(req, match, 'req-1', path), session: caller };
}

/** The JSON-RPC POST body of `messages` (one message unless several are given). */
export function jsonRpc(...messages: readonly object[]): string {
  const items = messages.map((m) => ({ jsonrpc: '2.0', ...m }));
  return JSON.stringify(items.length === 1 ? items[0] : items);
}
