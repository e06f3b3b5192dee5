/**
 * The fetches of upstream discovery: protected resource metadata (RFC 9728), authorization
 * server metadata (RFC 8414) and dynamic registration (RFC 7591), on behalf of an upstream
 * that names URLs the gateway then calls. Like client metadata documents, they go through the
 * address guard (`fetch-guard.ts`: no private or loopback address unless the host is in
 * `mcp_allowed_private_hosts`), with a deadline, a size cap and no redirects; only https,
 * except for hosts in that same list (development, tests).
 */
import { rootCertificates } from 'node:tls';
import { Agent, fetch as undiciFetch } from 'undici';
import { hostAllowed, MAX_FETCH_BYTES } from '../oauth/cimd.js';
import { readCapped } from '../net/capped-body.js';
import { canonicalHost, guardedConnector, type Lookup } from '../net/fetch-guard.js';

export interface DiscoveryFetchOptions {
  /**
   * `mcp_allowed_private_hosts`, and the hosts of the routes' own upstreams (`to`): the
   * operator named those, so their metadata is fetched wherever they are.
   */
  readonly allowPrivateHosts: readonly string[];
  /** A CA certificate (PEM) trusted besides the system roots (tests). */
  readonly ca?: string;
  readonly lookup?: Lookup;
  /** Per request, milliseconds. Default 5 s. */
  readonly timeoutMs?: number;
}

/** A discovery step that could not be completed, with what to tell the operator. */
export class DiscoveryError extends Error {
  readonly code = 'ERR_UPSTREAM_DISCOVERY';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'DiscoveryError';
  }
}

export interface GuardedFetch {
  /** `fetch` as openid-client calls it (its token, revocation and registration requests). */
  readonly fetch: typeof fetch;
  /** A JSON object from `url` (GET), or undefined on 404. */
  json(url: URL): Promise<Record<string, unknown> | undefined>;
  /** Throws unless `url` may be called: https, or http to an allowed private host. */
  checkUrl(url: URL, what: string): void;
}

export function guardedFetch(options: DiscoveryFetchOptions): GuardedFetch {
  const privateHosts = new Set(options.allowPrivateHosts.map(canonicalHost));
  const agent = new Agent({
    connect: guardedConnector({
      bypass: privateHosts,
      ...(options.ca ? { tls: { ca: [...rootCertificates, options.ca] } } : {}),
      ...(options.lookup ? { lookup: options.lookup } : {}),
    }),
  });
  const timeoutMs = options.timeoutMs ?? 5_000;
  const send = (input: string | URL | Request, init?: RequestInit) =>
    undiciFetch(String(input instanceof Request ? input.url : input), {
      ...(init as Parameters<typeof undiciFetch>[1]),
      dispatcher: agent,
      redirect: 'manual',
      signal: init?.signal ?? AbortSignal.timeout(timeoutMs),
    }) as unknown as Promise<Response>;
  const checkUrl = (url: URL, what: string) => {
    const host = canonicalHost(url.hostname);
    if (url.protocol === 'https:' || (url.protocol === 'http:' && privateHosts.has(host))) return;
    throw new DiscoveryError(`${what} ${url.href} is not https`);
  };
  return {
    fetch: send as typeof fetch,
    checkUrl,
    async json(url) {
      checkUrl(url, 'metadata URL');
      let res: Response;
      try {
        res = await send(url, { headers: { accept: 'application/json' } });
      } catch (err) {
        throw new DiscoveryError(`${url.href} could not be fetched: ${(err as Error).message}`, {
          cause: err,
        });
      }
      if (res.status === 404) {
        await res.body?.cancel();
        return undefined;
      }
      const text = await cappedText(res);
      if (res.status !== 200) throw new DiscoveryError(`${url.href} answered ${res.status}`);
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        throw new DiscoveryError(`${url.href} is not JSON`);
      }
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        throw new DiscoveryError(`${url.href} is not a JSON object`);
      }
      return value as Record<string, unknown>;
    },
  };
}

/** Whether the authorization server's host is one `mcp_allowed_as_metadata_domains` allows. */
export function authorizationServerAllowed(url: URL, patterns: readonly string[]): boolean {
  return patterns.length === 0 || hostAllowed(url.hostname, patterns);
}

async function cappedText(res: Response): Promise<string> {
  try {
    return (await readCapped(res, MAX_FETCH_BYTES)).toString('utf8');
  } catch (err) {
    throw new DiscoveryError(`${res.url}: ${(err as Error).message}`, { cause: err });
  }
}
