import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { JWK } from 'jose';

/** Where Pomerium publishes the keys that verify `X-Pomerium-Jwt-Assertion`. */
export const JWKS_PATH = '/.well-known/pomerium/jwks.json';

export interface JwksSource {
  jwks(): Promise<{ keys: JWK[] }>;
}

export interface JwksHandlerOptions {
  /** Called when the key set cannot be produced; the client gets a bare 500. */
  readonly onError?: (err: unknown) => void;
}

/**
 * Serves the key set (the router sends `JWKS_PATH` here): cacheable for 60 s, with a strong
 * ETag, readable from any origin (the keys are public), as Pomerium serves it.
 */
export function createJwksHandler(source: JwksSource, options: JwksHandlerOptions = {}) {
  // The body rarely changes: hash it only when it does.
  let last: { body: string; etag: string } | undefined;
  const representation = (body: string) => {
    if (last?.body !== body) {
      const hash = createHash('sha256').update(body).digest('base64url');
      last = { body, etag: `"${hash}"` };
    }
    return last;
  };

  return async function jwksHandler(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.setHeader('access-control-allow-origin', '*');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    let rep: { body: string; etag: string };
    try {
      rep = representation(JSON.stringify(await source.jwks()));
    } catch (err) {
      options.onError?.(err);
      res
        .writeHead(500, { 'content-type': 'application/json', 'cache-control': 'no-store' })
        .end(req.method === 'HEAD' ? undefined : '{"error":"server_error"}');
      return;
    }
    const headers = {
      'cache-control': 'public, max-age=60',
      etag: rep.etag,
    };
    if (matches(req.headers['if-none-match'], rep.etag)) {
      res.writeHead(304, headers).end();
      return;
    }
    res.writeHead(200, {
      ...headers,
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(rep.body),
      'x-content-type-options': 'nosniff',
    });
    res.end(req.method === 'HEAD' ? undefined : rep.body);
  };
}

/** RFC 9110 §13.1.2: If-None-Match uses the weak comparison, and `*` matches any. */
function matches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}
