/**
 * One OAuth authorization as an MCP client and a browser play it over HTTP against the
 * gateway's own OAuth server (register → authorize → sign-in → consent → token), each step
 * timed; the access token it ends with is what bench loads send as `Authorization: Bearer`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { CookieJar } from '../../test/support/cookie-jar.js';
import { authorizeInBrowser } from '../../test/support/oauth-browser.js';
import type { UpstreamProvider } from '../../test/support/upstream-provider.js';
import type { GatewayProcess } from './gateway-process.js';

type FlowGateway = Pick<GatewayProcess, 'origin' | 'email' | 'password'>;

const REDIRECT = 'http://127.0.0.1:43111/callback';

export interface FlowTimes {
  readonly register: number;
  readonly browser: number;
  readonly token: number;
  readonly total: number;
  readonly accessToken: string;
}

async function postJson(url: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as Record<string, unknown>;
  if (res.status !== 201) throw new Error(`registration: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/**
 * One authorization as a new client and a browser without a session would go through it; on
 * `/upstream` the browser also goes through the upstream provider's consent.
 */
export async function oneFlow(
  gw: FlowGateway,
  n: number,
  path = '/bearer',
  upstream?: UpstreamProvider,
): Promise<FlowTimes> {
  const t0 = performance.now();
  const client = await postJson(`${gw.origin}/.pomerium/mcp/register`, {
    // A distinct name: identical registrations are deduplicated and consent remembered.
    client_name: `bench client ${n} ${randomBytes(4).toString('hex')}`,
    redirect_uris: [REDIRECT],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
  });
  const t1 = performance.now();
  const verifier = randomBytes(32).toString('base64url');
  const url = new URL(`${gw.origin}/.pomerium/mcp/authorize`);
  const resource = `${gw.origin}${path}`;
  for (const [k, v] of Object.entries({
    response_type: 'code',
    client_id: String(client.client_id),
    redirect_uri: REDIRECT,
    scope: 'mcp offline_access',
    state: randomBytes(8).toString('hex'),
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    resource,
  }))
    url.searchParams.set(k, v);
  const run = await authorizeInBrowser(url, {
    email: gw.email,
    password: gw.password,
    jar: new CookieJar(),
    ...(upstream ? { upstream: { origin: upstream.issuer, account: `bench-${n}` } } : {}),
  });
  const code = run.location.searchParams.get('code');
  if (!code || !run.signedIn || !run.consentShown) {
    throw new Error(`the flow did not sign in, consent and return a code: ${run.location.href}`);
  }
  const t2 = performance.now();
  const res = await fetch(`${gw.origin}/.pomerium/mcp/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      code_verifier: verifier,
      redirect_uri: REDIRECT,
      client_id: String(client.client_id),
      resource,
    }),
  });
  const token = (await res.json()) as Record<string, unknown>;
  if (res.status !== 200 || typeof token.access_token !== 'string') {
    throw new Error(`token: ${res.status} ${JSON.stringify(token)}`);
  }
  const t3 = performance.now();
  return {
    register: t1 - t0,
    browser: t2 - t1,
    token: t3 - t2,
    total: t3 - t0,
    accessToken: token.access_token,
  };
}
