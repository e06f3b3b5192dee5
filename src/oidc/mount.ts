/**
 * How a node:http request reaches an oidc-provider instance: the one place that decides which
 * method, URL, headers and body the provider sees. oidc-provider (a Koa app) reads them all from
 * the request object it is given (`req.method`, `req.url`, `req.headers`, and the body stream in
 * `lib/shared/selective_body.js`), so an endpoint that routes an alias, rewrites a query, has
 * read the body for its own checks or presents a request as another method says so here (`ProviderInput`) instead of editing the request.
 */
import { IncomingMessage, type ServerResponse } from 'node:http';
import { clientHungUp } from '../core/hang-up.js';
import { servingOAuth } from '../core/request-context.js';
import type { OidcProvider } from './provider-module.js';

export interface ProviderInput {
  /** The method the provider is to see, when not the request's own. */
  readonly method?: string;
  /** The path and query the provider is to serve, when not the request's own. */
  readonly url?: string;
  /** Header values the provider is to see instead of the request's (undefined: removed). */
  readonly headers?: Readonly<Record<string, string | undefined>>;
  /** The body, when the endpoint has already read it from the request. */
  readonly body?: Buffer;
}

/** Serves one request with the provider; settles once the response is finished or closed. */
export type MountedProvider = (
  req: IncomingMessage,
  res: ServerResponse,
  input?: ProviderInput,
) => Promise<void>;

/**
 * Serves `provider` under `prefix` (e.g. `/.pomerium/idp`, or '' at the root) from a plain
 * node:http handler. oidc-provider computes its mount path from `req.originalUrl` minus
 * `req.url` (`lib/helpers/oidc_context.js` `urlFor`), as Express would set them.
 */
export function mountProvider(provider: OidcProvider, prefix: string): MountedProvider {
  // Koa prints the errors handed to it (a socket's, once a client hangs up mid-body) to stderr;
  // a hang-up is not a server error. Anything else still goes to Koa's own handler.
  provider.on('error', (err, ctx) => {
    const req = (ctx as { req?: IncomingMessage } | undefined)?.req;
    if (req === undefined || !clientHungUp(req)) provider.onerror(err);
  });
  const callback = provider.callback();
  return (req, res, input = {}) => servingOAuth(() => serveOnce(callback, req, res, prefix, input));
}

/** One request served by the provider; settles once its response is finished or closed. */
function serveOnce(
  callback: ReturnType<OidcProvider['callback']>,
  req: IncomingMessage,
  res: ServerResponse,
  prefix: string,
  input: ProviderInput,
): Promise<void> {
  return new Promise((resolve) => {
    const given = input.body === undefined ? req : replayRequest(req, input.body);
    const restore = lend(given, prefix, input);
    let settled = false;
    const done = () => {
      if (settled) return;
      settled = true;
      restore();
      resolve();
    };
    res.once('close', done);
    res.once('finish', done);
    callback(given, res);
  });
}

type Mounted = IncomingMessage & { originalUrl?: string };

/**
 * Gives the provider its view of `req` (URL below the mount point, the input's headers) for the
 * time it serves it; the returned function puts the request back as it came, so nothing the
 * provider needed shows to whoever holds the request afterwards.
 */
function lend(req: Mounted, prefix: string, input: ProviderInput): () => void {
  const { method, url, headers, originalUrl } = req;
  const target = input.url ?? url ?? '/';
  if (input.method !== undefined) req.method = input.method;
  req.originalUrl = target;
  req.url = target.slice(prefix.length) || '/';
  if (input.headers !== undefined) {
    req.headers = { ...headers };
    for (const [name, value] of Object.entries(input.headers)) {
      if (value === undefined) delete req.headers[name];
      else req.headers[name] = value;
    }
  }
  return () => {
    req.method = method;
    req.url = url;
    req.headers = headers;
    req.originalUrl = originalUrl;
  };
}

/**
 * A request carrying `body` for the provider to read, since the original stream has been
 * consumed by the endpoint's own checks. The provider reads the stream itself; its one
 * alternative, a pre-parsed `req.body`, prints a warning that an upstream body parser "is not
 * recommended" (`lib/shared/selective_body.js`). So it is given what it expects: an
 * IncomingMessage on the same socket whose stream yields exactly the bytes read.
 */
function replayRequest(req: IncomingMessage, body: Buffer): IncomingMessage {
  const copy = new IncomingMessage(req.socket);
  copy.method = req.method;
  copy.url = req.url;
  copy.httpVersion = req.httpVersion;
  copy.httpVersionMajor = req.httpVersionMajor;
  copy.httpVersionMinor = req.httpVersionMinor;
  const headers = { ...req.headers, 'content-length': String(body.length) };
  delete headers['transfer-encoding'];
  copy.headers = headers;
  // An incomplete message destroys its socket when it is destroyed (autoDestroy after end).
  copy.complete = true;
  copy.push(body);
  copy.push(null);
  return copy;
}
