/**
 * Raw OAuth steps against the gateway's authorization server, for tests that need to bend one
 * step (PKCE, redirect URIs, resources, secrets): registration, authorization URL, token
 * requests, revocation; and a gateway with two MCP routes in front of a recording upstream.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { parseConfig } from '../../src/config/load.js';
import { hashPassword } from '../../src/core/crypto.js';
import { startGateway, type Gateway, type GatewayOptions } from '../../src/http/gateway.js';
import { CookieJar } from './cookie-jar.js';
import { captureLogs, freePort, gatewayYamlHead, type LogCapture } from './gateway.js';
import { startJsonRpcUpstream, type JsonRpcUpstream } from './jsonrpc-upstream.js';
import { authorizeInBrowser, type BrowserResult } from './oauth-browser.js';

export const OAUTH_EMAIL = 'ada@example.com';
export const OAUTH_PASSWORD = 'oauth-tests-password';

export interface OAuthTestGateway {
  readonly origin: string;
  readonly gateway: Gateway;
  readonly upstream: JsonRpcUpstream;
  readonly logs: LogCapture;
  /** A browser already signed in to the gateway. */
  readonly jar: CookieJar;
  resource(path: '/sqlite' | '/whoami'): string;
  close(): Promise<void>;
}

/** The routes of `startOAuthGateway`, as YAML under `routes:`, for the gateway's `origin`. */
export type RoutesYaml = (origin: string, upstreamUrl: string) => string;

/** MCP routes `/sqlite` and `/whoami` on one host. */
const TWO_SERVERS: RoutesYaml = (origin, upstreamUrl) => `
  - from: ${origin}
    prefix: /sqlite
    to: ${upstreamUrl}/sqlite
    name: DB
    pass_identity_headers: true
    allow_any_authenticated_user: true
    mcp: { server: {} }
  - from: ${origin}
    prefix: /whoami
    to: ${upstreamUrl}/whoami
    name: Who
    pass_identity_headers: true
    allow_any_authenticated_user: true
    mcp: { server: {} }
`;

/**
 * A gateway (memory storage, built-in sign-in) with MCP routes `/sqlite` and `/whoami`, or
 * the `routes` given.
 */
export async function startOAuthGateway(
  oauth: GatewayOptions['oauth'] = {},
  extraYaml = '',
  routes: RoutesYaml = TWO_SERVERS,
): Promise<OAuthTestGateway> {
  const upstream = await startJsonRpcUpstream();
  const port = await freePort();
  const hash = await hashPassword(OAUTH_PASSWORD);
  const origin = `http://localhost:${port}`;
  const yaml = `
${gatewayYamlHead(port)}
databroker_storage_type: memory
builtin_users:
  - { email: ${OAUTH_EMAIL}, name: Ada, groups: [admins], password_hash: '${hash}' }
${extraYaml}
routes:${routes(origin, upstream.url)}`;
  const { config } = parseConfig(yaml, 'oauth-test.yaml', {});
  const logs = captureLogs();
  const gateway = await startGateway({ config, logger: logs.logger, oauth });
  return {
    origin,
    gateway,
    upstream,
    logs,
    jar: new CookieJar(),
    resource: (path) => `${origin}${path}`,
    close: async () => {
      await gateway.close();
      await upstream.close();
    },
  };
}

export interface Pkce {
  readonly verifier: string;
  readonly challenge: string;
}

export function pkce(): Pkce {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export interface Registered {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly clientId: string;
}

export async function register(
  origin: string,
  metadata: Record<string, unknown>,
  path = '/.pomerium/mcp/register',
): Promise<Registered> {
  const res = await fetch(`${origin}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(metadata),
  });
  const body = (await res.json()) as Record<string, unknown>;
  return { status: res.status, body, clientId: String(body.client_id ?? '') };
}

export const publicClient = (
  redirect = 'http://127.0.0.1:43111/callback',
  extra: Record<string, unknown> = {},
) => ({
  client_name: 'Test client',
  redirect_uris: [redirect],
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  token_endpoint_auth_method: 'none',
  scope: 'mcp offline_access',
  ...extra,
});

export function authorizationUrl(
  origin: string,
  params: Record<string, string | undefined>,
  path = '/.pomerium/mcp/authorize',
): URL {
  const url = new URL(path, origin);
  const all: Record<string, string | undefined> = {
    response_type: 'code',
    scope: 'mcp offline_access',
    state: randomBytes(8).toString('hex'),
    code_challenge_method: 'S256',
    ...params,
  };
  for (const [k, v] of Object.entries(all)) if (v !== undefined) url.searchParams.set(k, v);
  return url;
}

export interface TokenResponse {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly headers: Headers;
}

export async function tokenRequest(
  origin: string,
  params: Record<string, string>,
  options: { basic?: [string, string]; path?: string } = {},
): Promise<TokenResponse> {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (options.basic) {
    const [id, secret] = options.basic.map(encodeURIComponent) as [string, string];
    headers.authorization = `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
  }
  const res = await fetch(`${origin}${options.path ?? '/.pomerium/mcp/token'}`, {
    method: 'POST',
    headers,
    body: new URLSearchParams(params),
  });
  return {
    status: res.status,
    body: (await res.json()) as Record<string, unknown>,
    headers: res.headers,
  };
}

export interface Authorized {
  readonly clientId: string;
  readonly code: string;
  readonly verifier: string;
  readonly redirectUri: string;
  readonly run: BrowserResult;
}

/** What the flow helpers need of a gateway: any gateway with the built-in sign-in. */
export type FlowGateway = Pick<OAuthTestGateway, 'origin' | 'jar' | 'resource'>;

/** Registers (unless `clientId` is given), then runs sign-in and consent; returns the code. */
export async function authorizeCode(
  gw: FlowGateway,
  options: {
    clientId?: string;
    redirectUri?: string;
    resource?: string;
    authorizePath?: string;
  } = {},
): Promise<Authorized> {
  const redirectUri = options.redirectUri ?? 'http://127.0.0.1:43111/callback';
  const clientId =
    options.clientId ?? (await register(gw.origin, publicClient(redirectUri))).clientId;
  const { verifier, challenge } = pkce();
  const url = authorizationUrl(
    gw.origin,
    {
      client_id: clientId,
      redirect_uri: redirectUri,
      code_challenge: challenge,
      resource: options.resource ?? gw.resource('/sqlite'),
    },
    options.authorizePath,
  );
  const run = await authorizeInBrowser(url, {
    email: OAUTH_EMAIL,
    password: OAUTH_PASSWORD,
    jar: gw.jar,
  });
  const code = run.location.searchParams.get('code');
  assert.ok(code, `no code: ${run.location.href}`);
  return { clientId, code, verifier, redirectUri, run };
}

/** Exchanges an authorization code (with `resource`, as the SDK does). */
export function exchange(
  gw: Pick<FlowGateway, 'origin' | 'resource'>,
  a: Authorized,
  resource = gw.resource('/sqlite'),
  path?: string,
) {
  return tokenRequest(
    gw.origin,
    {
      grant_type: 'authorization_code',
      code: a.code,
      code_verifier: a.verifier,
      redirect_uri: a.redirectUri,
      client_id: a.clientId,
      resource,
    },
    { path },
  );
}

/** A tools/list POST with a bearer token. */
export function mcpWithToken(
  gw: OAuthTestGateway,
  path: string,
  token: string,
  headers: Record<string, string> = {},
) {
  return fetch(`${gw.origin}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      authorization: `Bearer ${token}`,
      ...headers,
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
  });
}
