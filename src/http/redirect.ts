/**
 * `http_redirect_addr`: the plain-HTTP listener. It answers ACME HTTP-01 challenges (RFC 8555
 * §8.3) and sends everything else to the same host over HTTPS, path and query kept. Pomerium
 * does the same with 301 and `Connection: close`, but drops the port, so its redirect is wrong
 * whenever HTTPS is not on 443; here the port is the one the host's routes are reached on.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import { sendJson, sendOAuthError } from '../core/respond.js';
import { parseHost } from '../proxy/match.js';
import {
  ACME_CHALLENGE_PREFIX,
  challengeToken,
  type AcmeChallengeResponder,
} from '../tls/acme-challenge.js';
import { settleRequestTarget } from './request-target.js';

export interface RedirectOptions {
  /** The port HTTPS is reached on for `hostname` (443 is left out of the URL). */
  readonly httpsPort: (hostname: string) => number;
  /** Answers ACME challenges; without one every challenge path is 404. */
  readonly challenges?: AcmeChallengeResponder;
  readonly logger: Logger;
}

/** The listener's handler; unexpected errors are a bare 500 with the detail in the log. */
export function createRedirectHandler(
  options: RedirectOptions,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    answer(req, res, options).catch((err: unknown) => {
      options.logger.error({ err, path: req.url }, 'http_redirect_addr: unhandled error');
      sendOAuthError(res, 500, { error: 'server_error' });
    });
  };
}

async function answer(req: IncomingMessage, res: ServerResponse, options: RedirectOptions) {
  const refused = settleRequestTarget(req, 'http');
  const host = refused === undefined ? plainHost(req.headers.host) : undefined;
  if (host === undefined) {
    const error_description = refused ?? 'a Host header naming the site is required';
    return sendOAuthError(res, 400, { error: 'invalid_request', error_description });
  }
  const target = req.url?.startsWith('/') ? req.url : '/';
  const path = target.split('?')[0]!;
  // As Pomerium (and the ACME CA, which only GETs): other methods are redirected.
  if (req.method === 'GET' || req.method === 'HEAD') {
    if (path.startsWith(ACME_CHALLENGE_PREFIX)) {
      return answerChallenge(res, challengeToken(path), host, options.challenges);
    }
  }
  const port = options.httpsPort(host);
  const location = `https://${host}${port === 443 ? '' : `:${port}`}${target}`;
  res.writeHead(301, { location, connection: 'close', 'content-length': 0 });
  res.end();
}

async function answerChallenge(
  res: ServerResponse,
  token: string | undefined,
  host: string,
  responder: AcmeChallengeResponder | undefined,
) {
  const keyAuthorization = token && responder ? await responder(token, host) : undefined;
  if (keyAuthorization === undefined) {
    return sendJson(res, 404, { error: 'not_found', error_description: 'no such ACME challenge' });
  }
  res.writeHead(200, {
    'content-type': 'application/octet-stream',
    'content-length': Buffer.byteLength(keyAuthorization),
    'cache-control': 'no-store',
  });
  res.end(keyAuthorization);
}

/**
 * The Host's name without its port, when it is a DNS name or an IP literal: nothing else goes
 * into the Location (a reg-name may hold `!$&'()*+,;=`, which no site's name does).
 */
function plainHost(value: string | undefined): string | undefined {
  const parsed = value === undefined ? undefined : parseHost(value);
  if (!parsed) return undefined;
  const { hostname } = parsed;
  return /^[a-z0-9_.-]+$|^\[[0-9a-f:.]+\]$/.test(hostname) ? hostname : undefined;
}

/**
 * The HTTPS port for a host: that of the first `https` route (or `authenticate_service_url`) on
 * it, the public origin the operator wrote (behind a port mapping the listener's own port can
 * differ); else the HTTPS listener's port.
 */
export function httpsPorts(config: Config, listenerPort: number): (hostname: string) => number {
  const ports = new Map<string, number>();
  for (const text of [config.authenticateServiceUrl, ...config.routes.map((r) => r.from)]) {
    const url = text ? new URL(text) : undefined;
    if (url?.protocol !== 'https:' || ports.has(url.hostname)) continue;
    ports.set(url.hostname, url.port === '' ? 443 : Number(url.port));
  }
  return (hostname) => ports.get(hostname) ?? listenerPort;
}
