/**
 * Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document): a client whose
 * `client_id` is an https URL is described by the JSON document at that URL. oidc-provider
 * fetches it through `createProviderFetch` (2.5 s timeout, 5 KiB cap, no redirects) and caches
 * what it accepts (30 s to 24 h, by Cache-Control). What is ours: which hosts may be fetched at
 * all (`mcp_allowed_client_id_domains`), the address guard applied before connecting
 * (`fetch-guard.ts`, with `mcp_allowed_private_hosts` as its only exemption), and one fetch
 * per use: oidc-provider looks a refused client up a second time to render its error page.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { rootCertificates } from 'node:tls';
import { Agent, fetch as undiciFetch } from 'undici';
import { servingOAuth, switchedStorage } from '../core/request-context.js';
import { readCapped } from '../net/capped-body.js';
import { canonicalHost, guardedConnector, type Lookup } from '../net/fetch-guard.js';

/** `chatgpt.com` matches that host only; `*.example.com` matches its subdomains (not itself). */
export function hostAllowed(hostname: string, patterns: readonly string[]): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, '');
  return patterns.some((raw) => {
    const pattern = raw.toLowerCase().replace(/\.$/, '');
    if (pattern.startsWith('*.'))
      return host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1;
    return host === pattern;
  });
}

export interface CimdFetchOptions {
  /** `mcp_allowed_private_hosts`: fetched even at private or loopback addresses. */
  readonly allowPrivateHosts: readonly string[];
  /** A CA certificate (PEM) trusted besides the system roots (tests). */
  readonly ca?: string;
  /** Name resolution (tests); default the system resolver. */
  readonly lookup?: Lookup;
}

/** Documents and key sets are small; anything larger is refused while it streams in. */
export const MAX_FETCH_BYTES = 64 * 1024;

interface Snapshot {
  readonly status: number;
  readonly statusText: string;
  readonly headers: [string, string][];
  readonly body: Uint8Array;
}

/** The fetches of one incoming request, by URL (only GETs: they are safe to answer twice). */
const scope = switchedStorage(new AsyncLocalStorage<Map<string, Promise<Snapshot>>>());

/** Runs `serve` so that a URL fetched several times while it runs is fetched once. */
export function withFetchScope<T>(serve: () => Promise<T>): Promise<T> {
  return servingOAuth(() => scope.run(new Map(), serve));
}

type FetchInit = RequestInit & { dispatcher?: unknown };

/**
 * oidc-provider's `fetch` option. Its own guard (an undici `connect` listener) acts after the
 * TCP and TLS handshakes, so its dispatcher is replaced by one that checks the address first.
 */
export function createProviderFetch(options: CimdFetchOptions) {
  const agent = new Agent({
    connect: guardedConnector({
      bypass: new Set(options.allowPrivateHosts.map(canonicalHost)),
      ...(options.ca ? { tls: { ca: [...rootCertificates, options.ca] } } : {}),
      ...(options.lookup ? { lookup: options.lookup } : {}),
    }),
  });
  const send = (url: string, init: FetchInit) => snapshot(agent, url, init);
  return async (url: string | URL, init: FetchInit): Promise<Response> => {
    const href = String(url);
    const memo = (init.method ?? 'GET').toUpperCase() === 'GET' ? scope.getStore() : undefined;
    let pending = memo?.get(href);
    if (pending === undefined) {
      pending = send(href, init);
      memo?.set(href, pending);
    }
    return replay(await pending);
  };
}

/** Fetches `url` through `agent` and reads the whole answer (capped) within the caller's signal. */
async function snapshot(agent: Agent, url: string, init: FetchInit): Promise<Snapshot> {
  const rest: FetchInit = { ...init };
  delete rest.dispatcher;
  const res = await undiciFetch(url, {
    ...(rest as Parameters<typeof undiciFetch>[1]),
    dispatcher: agent,
  }).catch((err: unknown) => {
    // undici's "fetch failed" hides why (the guard's refusal, a refused connection): the log
    // shows oidc-provider's detail, which is this error's message. Clients see neither.
    throw err instanceof TypeError && err.cause instanceof Error ? err.cause : err;
  });
  const body = await readCapped(res as unknown as Response, MAX_FETCH_BYTES);
  const headers = [...res.headers].filter(
    ([name]) => name !== 'content-length' && name !== 'content-encoding',
  );
  headers.push(['content-length', String(body.length)]);
  return { status: res.status, statusText: res.statusText, headers, body };
}

const NULL_BODY_STATUS = new Set([204, 205, 304]);

function replay(snap: Snapshot): Response {
  return new Response(NULL_BODY_STATUS.has(snap.status) ? null : snap.body, {
    status: snap.status,
    statusText: snap.statusText,
    headers: snap.headers,
  });
}
