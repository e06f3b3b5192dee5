/**
 * OAuth bearer tokens from the gateway's own authorization server, as an MCP client gets them
 * (register → authorize with the signed-in browser's session → consent → code exchange with
 * PKCE), their revocation (RFC 7009) and their use: everything sent to one replica directly,
 * with the public origin's Host header.
 */
import { createHash, randomBytes } from 'node:crypto';
import { post, type Target } from './loopback-http.js';
import { MCP_HEADERS, toolsCallBody } from './mcp-call.js';
import { send, signIn, type Hop, type Jar } from './sign-in.js';

/** One replica, addressed directly. */
export interface Gate {
  readonly port: number;
  /** The public origin's host, `localhost:<balancer port>`. */
  readonly host: string;
}

export interface BenchClient {
  readonly clientId: string;
  /** The browser's cookies: the gateway session of the signed-in user. */
  readonly jar: Jar;
}

const REDIRECT = 'http://127.0.0.1:43111/callback';
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

const at = (gate: Gate, path: string): Target => ({ port: gate.port, host: gate.host, path });
const originOf = (gate: Gate) => `http://${gate.host}`;

/** Signs the browser in and registers a public client (RFC 7591). */
export async function signedInClient(
  gate: Gate,
  email: string,
  password: string,
): Promise<BenchClient> {
  const cookie = await signIn(gate.port, originOf(gate), email, password);
  const eq = cookie.indexOf('=');
  const jar: Jar = new Map([[cookie.slice(0, eq), { value: cookie.slice(eq + 1), path: '/' }]]);
  const registered = await post(
    at(gate, '/.pomerium/mcp/register'),
    { 'content-type': 'application/json' },
    JSON.stringify({
      client_name: `replicas bench ${randomBytes(4).toString('hex')}`,
      redirect_uris: [REDIRECT],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    }),
  );
  const clientId = (JSON.parse(registered.body) as { client_id?: string }).client_id;
  if (registered.status !== 201 || !clientId) {
    throw new Error(`registration: HTTP ${registered.status}: ${registered.body.slice(0, 300)}`);
  }
  return { clientId, jar };
}

/** Plays the browser from the authorization URL to the redirect back, consenting if asked. */
async function authorizationCode(gate: Gate, client: BenchClient, url: URL): Promise<string> {
  let hop: Hop = await send(gate.port, gate.host, url, client.jar);
  for (let hops = 0; hops < 10; hops++) {
    if (hop.status >= 300 && hop.status < 400 && hop.location) {
      url = new URL(hop.location, url);
      const code = url.origin === new URL(REDIRECT).origin ? url.searchParams.get('code') : '';
      if (code) return code;
      if (code === null) throw new Error(`authorization refused: ${url.href}`);
      hop = await send(gate.port, gate.host, url, client.jar);
    } else if (hop.status === 200 && url.pathname.startsWith('/.pomerium/mcp/interaction/')) {
      const csrf = /name="csrf" value="([^"]+)"/.exec(hop.body)?.[1] ?? '';
      const form = new URLSearchParams({ csrf, decision: 'allow' }).toString();
      hop = await send(gate.port, gate.host, url, client.jar, form);
    } else {
      throw new Error(`authorization: HTTP ${hop.status} at ${url.pathname}`);
    }
  }
  throw new Error('authorization: too many hops');
}

/** A fresh access token for the `/mcp` route (RFC 6749 §4.1, RFC 7636, RFC 8707). */
export async function issueToken(gate: Gate, client: BenchClient): Promise<string> {
  const verifier = randomBytes(32).toString('base64url');
  const resource = `${originOf(gate)}/mcp`;
  const url = new URL(`${originOf(gate)}/.pomerium/mcp/authorize`);
  // RFC 7636 §4.2: S256 of the verifier only this bench knows.
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const client_id = client.clientId;
  const state = randomBytes(8).toString('hex');
  const query = { response_type: 'code', client_id, redirect_uri: REDIRECT, scope: 'mcp', state };
  url.search = new URLSearchParams({
    ...query,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    resource,
  }).toString();
  const code = await authorizationCode(gate, client, url);
  const answer = await post(
    at(gate, '/.pomerium/mcp/token'),
    FORM,
    new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      code_verifier: verifier,
      redirect_uri: REDIRECT,
      client_id: client.clientId,
      resource,
    }).toString(),
  );
  const token = (JSON.parse(answer.body) as { access_token?: string }).access_token;
  if (answer.status !== 200 || !token) {
    throw new Error(`token: HTTP ${answer.status}: ${answer.body.slice(0, 300)}`);
  }
  return token;
}

/** RFC 7009 §2.1: a public client revokes its own access token. */
export async function revokeToken(gate: Gate, client: BenchClient, token: string): Promise<void> {
  const answer = await post(
    at(gate, '/.pomerium/mcp/revoke'),
    FORM,
    new URLSearchParams({
      token,
      token_type_hint: 'access_token',
      client_id: client.clientId,
    }).toString(),
  );
  if (answer.status !== 200) throw new Error(`revoke: HTTP ${answer.status}: ${answer.body}`);
}

/** Whether the replica lets a tools/call with `token` through (200) or refuses it (401). */
export async function accepts(gate: Gate, token: string): Promise<boolean> {
  const answer = await post(
    at(gate, '/mcp'),
    { ...MCP_HEADERS, authorization: `Bearer ${token}` },
    toolsCallBody('anything'),
  );
  if (answer.status === 200) return true;
  if (answer.status === 401) return false;
  throw new Error(`tools/call on port ${gate.port}: HTTP ${answer.status}: ${answer.body}`);
}
