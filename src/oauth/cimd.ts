/**
 * Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document): a client whose
 * `client_id` is an https URL is described by the JSON document at that URL. oidc-provider
 * fetches it (2.5 s timeout, 5 KiB cap, special-use addresses refused by its dispatcher) and
 * caches it (30 s to 24 h, by Cache-Control). What is ours: which hosts may be fetched at all
 * (`mcp_allowed_client_id_domains`), and a named list of hosts that may bypass the
 * private-address guard, for tests and development only.
 */
import { Agent, fetch as undiciFetch, type Dispatcher } from 'undici';

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

/** Hosts from `PORTCULLIS_CIMD_ALLOW_PRIVATE_HOSTS` (comma-separated); empty by default. */
export function privateHostsFromEnv(env: Readonly<Record<string, string | undefined>>): string[] {
  return (env.PORTCULLIS_CIMD_ALLOW_PRIVATE_HOSTS ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean);
}

export interface CimdFetchOptions {
  /** Hostnames fetched without the private-address guard (tests, development). */
  readonly allowPrivateHosts: readonly string[];
  /** The dispatcher for those hosts (e.g. one trusting a test CA); default a plain Agent. */
  readonly dispatcher?: Dispatcher;
}

type FetchInit = RequestInit & { dispatcher?: unknown };

/**
 * oidc-provider's `fetch` option. It sets its guarded dispatcher on every outgoing request;
 * only for the named hosts is it replaced.
 */
export function createProviderFetch(options: CimdFetchOptions) {
  let plain: Dispatcher | undefined = options.dispatcher;
  const bypass = new Set(options.allowPrivateHosts.map((h) => h.toLowerCase()));
  return (url: string | URL, init: FetchInit): Promise<Response> => {
    const hostname = new URL(url).hostname.toLowerCase().replace(/^\[|\]$/g, '');
    if (bypass.has(hostname)) {
      plain ??= new Agent();
      // undici's own fetch with its own Agent (the global fetch is a different undici copy).
      const rest: FetchInit = { ...init };
      delete rest.dispatcher;
      return undiciFetch(url, {
        ...(rest as Parameters<typeof undiciFetch>[1]),
        dispatcher: plain,
      }) as unknown as Promise<Response>;
    }
    return fetch(url, init as RequestInit);
  };
}
