/**
 * Step 4: credentials for the upstream. The client's own token never goes upstream (REFERENCE
 * §2; `upstreamRequestHeaders` removes it); on a route with an upstream provider the user's
 * upstream token (TI) goes in its place, refreshed when due. A user who holds none (never
 * connected, or the provider refused the refresh) gets 401 `invalid_token` and the grant of the
 * token they presented is revoked: their client's refresh then fails with `invalid_grant` and
 * it authorizes again, through the provider (a bare 401 would loop on the refresh token).
 *
 * On an `mcp.client` route the app gets the session's client-mode token instead (REFERENCE §2),
 * the client's own Authorization removed likewise: it hands it to LLM APIs that call the
 * user's MCP servers through the gateway.
 */
import type { OutgoingHttpHeaders } from 'node:http';
import type { Credentials } from '../../upstream/service.js';
import type { JsonRpcId } from '../inspect.js';
import type { Answer } from './answer.js';
import type { CallerRequest, PipelinePorts } from './context.js';
import { unauthorizedAnswer } from './cors.js';

/** Nothing to add (shared: the step's answers are never written to). */
const NO_HEADERS: OutgoingHttpHeaders = Object.freeze({});

export type CredentialsStep =
  | {
      readonly ok: true;
      readonly headers: OutgoingHttpHeaders;
      /** The stored token's version, when one was sent (a 401 to it refreshes once). */
      readonly version?: number;
    }
  | { readonly ok: false; readonly answer: Answer; readonly note: string };

export async function upstreamCredentials(
  ports: PipelinePorts,
  ctx: CallerRequest,
  jsonRpcId: JsonRpcId | null,
): Promise<CredentialsStep> {
  if (ctx.match.route.mcp?.kind === 'client') return clientModeCredentials(ports, ctx);
  const { upstream } = ports;
  if (!upstream || !ctx.session || !upstream.holdsTokens(ctx.match.route)) {
    return { ok: true, headers: NO_HEADERS };
  }
  const credentials = await upstream.credentials(ctx.match.route, ctx.session.sub);
  return judgeCredentials(ports, ctx, credentials, jsonRpcId);
}

async function clientModeCredentials(
  ports: PipelinePorts,
  ctx: CallerRequest,
): Promise<CredentialsStep> {
  if (!ctx.session || !ports.clientToken) return { ok: true, headers: NO_HEADERS };
  return { ok: true, headers: { authorization: `Bearer ${await ports.clientToken(ctx.session)}` } };
}

/** The step's answer for what the vault gave. */
export async function judgeCredentials(
  ports: PipelinePorts,
  ctx: CallerRequest,
  credentials: Credentials,
  jsonRpcId: JsonRpcId | null,
): Promise<CredentialsStep> {
  switch (credentials.kind) {
    case 'none':
      return { ok: true, headers: NO_HEADERS };
    case 'token':
      return {
        ok: true,
        headers: { authorization: `Bearer ${credentials.accessToken}` },
        version: credentials.version,
      };
    case 'missing':
      if (ctx.grantId !== undefined) await ports.revokeGrant?.(ctx.grantId);
      return {
        ok: false,
        answer: unauthorizedAnswer(ctx.match.route, ctx.origin, 'invalid_token'),
        note: 'no upstream token for this user: the client must authorize again',
      };
    case 'unavailable':
      return {
        ok: false,
        answer: providerUnavailable(ctx, jsonRpcId),
        note: 'upstream provider unavailable',
      };
  }
}

function providerUnavailable(ctx: CallerRequest, id: JsonRpcId | null): Answer {
  const message = 'the upstream service’s authorization server is unavailable; try again later';
  if (ctx.method === 'POST' && ctx.match.route.mcp?.kind === 'server') {
    return { kind: 'json-rpc-error', status: 502, id, code: -32603, message };
  }
  return {
    kind: 'json',
    status: 502,
    body: { error: 'upstream_unavailable', error_description: message },
  };
}
