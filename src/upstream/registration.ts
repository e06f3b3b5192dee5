/**
 * The gateway's client at a discovered authorization server: the route's pre-registered
 * `upstream_oauth2.client_id`, else the one registered before (storage: once per issuer and
 * callback, shared by replicas, kept across restarts), else a new registration — the gateway's
 * client metadata document when the server accepts those and the route is https, else RFC 7591
 * dynamic registration.
 */
import type * as client from 'openid-client';
import type { RouteConfig } from '../config/types.js';
import { deriveKey, open, seal } from '../core/crypto.js';
import type { UpstreamClientRecord, UpstreamClientStore } from '../storage/types.js';
import { DiscoveryError, type GuardedFetch } from './discovery-fetch.js';

export interface RegisteredClient {
  readonly clientId: string;
  readonly secret: string | null;
  readonly authMethod: 'client_secret_basic' | 'client_secret_post' | 'none';
}

export interface RegistrationInput {
  readonly route: RouteConfig;
  readonly metadata: client.ServerMetadata;
  readonly redirectUri: string;
  /** `https://<route host>/.pomerium/mcp/client/metadata.json`. */
  readonly metadataDocument: string;
  readonly http: GuardedFetch;
  readonly clients: UpstreamClientStore;
  readonly sharedSecret: string;
  readonly now: () => number;
}

/** What the gateway says of itself when it registers (and in its metadata document). */
export function clientMetadata(redirectUri: string, authMethod: string) {
  return {
    client_name: 'Portcullis MCP gateway',
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: authMethod,
  };
}

export async function registeredClient(input: RegistrationInput): Promise<RegisteredClient> {
  const upstream = input.route.mcp?.kind === 'server' ? input.route.mcp.upstreamOauth2 : null;
  if (upstream) {
    const authMethod = upstream.clientSecret === null ? 'none' : 'client_secret_basic';
    return { clientId: upstream.clientId, secret: upstream.clientSecret, authMethod };
  }
  const key = deriveKey(input.sharedSecret, 'portcullis upstream clients v1');
  const issuer = String(input.metadata.issuer);
  const aad = `${issuer}\0${input.redirectUri}`;
  const stored = await input.clients.get(issuer, input.redirectUri);
  const record = stored ?? (await input.clients.putIfAbsent(await register(input, key, aad)));
  return {
    clientId: record.clientId,
    secret: record.clientSecretEnc === null ? null : open(key, record.clientSecretEnc, aad),
    authMethod: authMethodOf(record.tokenEndpointAuthMethod),
  };
}

async function register(
  input: RegistrationInput,
  key: Buffer,
  aad: string,
): Promise<UpstreamClientRecord> {
  const { metadata } = input;
  const base = { issuer: String(metadata.issuer), redirectUri: input.redirectUri };
  const documentOk = metadata.client_id_metadata_document_supported === true;
  if (documentOk && input.metadataDocument.startsWith('https:')) {
    const clientId = input.metadataDocument;
    return {
      ...base,
      clientId,
      clientSecretEnc: null,
      tokenEndpointAuthMethod: 'none',
      createdAt: input.now(),
    };
  }
  if (typeof metadata.registration_endpoint !== 'string') {
    throw new DiscoveryError(
      `${base.issuer} supports neither dynamic registration nor client metadata documents: set upstream_oauth2.client_id`,
    );
  }
  const endpoint = new URL(metadata.registration_endpoint);
  input.http.checkUrl(endpoint, 'registration_endpoint');
  const supported = metadata.token_endpoint_auth_methods_supported ?? ['client_secret_basic'];
  const method = ['client_secret_basic', 'client_secret_post', 'none'].find((m) =>
    supported.includes(m),
  );
  if (method === undefined) {
    throw new DiscoveryError(`${base.issuer} offers no client authentication the gateway has`);
  }
  const res = await input.http.fetch(endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify(clientMetadata(input.redirectUri, method)),
  });
  const answer = (await res.json().catch(() => undefined)) as Record<string, unknown> | undefined;
  if (res.status !== 201 && res.status !== 200) {
    const said = typeof answer?.error === 'string' ? `: ${answer.error}` : '';
    throw new DiscoveryError(`registration at ${endpoint.href} answered ${res.status}${said}`);
  }
  if (typeof answer?.client_id !== 'string') {
    throw new DiscoveryError(`registration at ${endpoint.href} gave no client_id`);
  }
  const secret = typeof answer.client_secret === 'string' ? answer.client_secret : null;
  return {
    ...base,
    clientId: answer.client_id,
    clientSecretEnc: secret === null ? null : seal(key, secret, aad),
    tokenEndpointAuthMethod: secret === null ? 'none' : method,
    createdAt: input.now(),
  };
}

function authMethodOf(method: string): RegisteredClient['authMethod'] {
  return method === 'client_secret_post' || method === 'none' ? method : 'client_secret_basic';
}
