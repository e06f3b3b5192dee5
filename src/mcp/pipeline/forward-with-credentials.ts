/**
 * Steps 4 to 6 together: credentials, identity assertion, forward. When the gateway sent an
 * upstream token and the upstream answers 401 to it, that answer is not passed on: the token is
 * refreshed once and the request sent again (its body was read, so it can be); a second 401
 * to a fresh token is the same as a refused refresh (the token is deleted, the client's grant
 * revoked, the client told `invalid_token`); a 403 `insufficient_scope` does the same and the
 * next authorization asks the provider for the scopes it named. A 401 with `resource_metadata` on a route that
 * sent no token teaches the gateway that the upstream has its own OAuth (discovery): the
 * request goes again with the user's token, or the client is sent to authorize through it.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { DeclinedAnswer, ForwardResult, UpstreamHead } from '../../proxy/forward.js';
import { sendAnswer, type Answer } from './answer.js';
import { identityHeaders } from './assertion.js';
import { routeName, type CallerRequest, type PipelinePorts } from './context.js';
import { judgeCredentials, upstreamCredentials, type CredentialsStep } from './credentials.js';
import { forwardUpstream, type ForwardPlan } from './forward-upstream.js';

type Sent = CredentialsStep & { ok: true };

const NO_HEADERS: OutgoingHttpHeaders = Object.freeze({});
const NO_CREDENTIALS: Sent = Object.freeze({ ok: true, headers: NO_HEADERS });

/** Whether step 4 has anything to look up for this request. */
function needsCredentials(ports: PipelinePorts, ctx: CallerRequest): boolean {
  if (ctx.match.route.mcp?.kind === 'client') return true;
  return ctx.session !== undefined && ports.upstream?.holdsTokens(ctx.match.route) === true;
}

/** The upstream refused the token: expired or revoked (401), or short of scopes (403). */
const rejected = (r: UpstreamHead) =>
  r.status === 401 ||
  (r.status === 403 && /insufficient_scope/.test(r.headers['www-authenticate'] ?? ''));
const challenged = (r: UpstreamHead) =>
  r.status === 401 && /resource_metadata=/i.test(r.headers['www-authenticate'] ?? '');

/** The last forward's result (the audit line's upstream status); undefined: none was sent. */
export async function forwardWithCredentials(
  ports: PipelinePorts,
  req: IncomingMessage,
  res: ServerResponse,
  ctx: CallerRequest,
  plan: Omit<ForwardPlan, 'extraHeaders'>,
): Promise<ForwardResult | undefined> {
  const jsonRpcId = plan.mcpPost?.jsonRpcErrorId ?? null;
  // Each step is awaited only when it has something to do: most requests need neither.
  const first = needsCredentials(ports, ctx)
    ? await upstreamCredentials(ports, ctx, jsonRpcId)
    : NO_CREDENTIALS;
  if (!first.ok) return refuse(ports, req, res, ctx, first.answer, first.note);
  const identity =
    ctx.session && ctx.match.route.passIdentityHeaders
      ? await identityHeaders(ports, ctx.match.route, ctx.session)
      : NO_HEADERS;
  const send = sender(ports, req, res, ctx, plan, identity);
  // A body still in the request stream cannot be sent twice: only read bodies are retried.
  const replayable = plan.mcpPost !== undefined || ctx.method === 'GET' || ctx.method === 'HEAD';
  const { upstream } = ports;
  if (!replayable || !upstream || !ctx.session) return send(first);
  const { route } = ctx.match;
  const { sub } = ctx.session;
  let sent = first;
  if (first.version === undefined) {
    if (!upstream.mayDiscover(route)) return send(first);
    const tried = await send(first, challenged);
    if (!tried.declined) return tried;
    const next = await afterChallenge(ports, ctx, tried.declined, jsonRpcId);
    if (!next.ok) return refuse(ports, req, res, ctx, next.answer, next.note);
    sent = next;
  }
  const answered = await send(sent, rejected);
  const refusal = answered.declined;
  if (!refusal) return answered;
  if (refusal.status === 403) {
    // RFC 6750 §3.1: the client re-authorizes, and the gateway asks the provider for more.
    await upstream.stepUp(route, sub, refusal.wwwAuthenticate);
    const more = await judgeCredentials(ports, ctx, { kind: 'missing' }, jsonRpcId);
    if (!more.ok) return refuse(ports, req, res, ctx, more.answer, 'upstream needs more scopes');
  }
  if (sent.version === undefined) {
    const answer = challengeUnmet(ctx, jsonRpcId);
    return refuse(ports, req, res, ctx, answer, 'the upstream refused the request without a token');
  }
  const refreshed = await upstream.refreshAfterRejection(route, sub, sent.version);
  const second = await judgeCredentials(ports, ctx, refreshed, jsonRpcId);
  if (!second.ok) return refuse(ports, req, res, ctx, second.answer, second.note);
  const retried = await send(second, rejected);
  const again = retried.declined;
  if (!again) return retried;
  if (again.status === 403) await upstream.stepUp(route, sub, again.wwwAuthenticate);
  else await upstream.forget(route, sub);
  const gone = await judgeCredentials(ports, ctx, { kind: 'missing' }, jsonRpcId);
  if (!gone.ok) return refuse(ports, req, res, ctx, gone.answer, gone.note);
  return undefined;
}

/** Step 6 with the credentials of step 4 and the identity headers of step 5. */
function sender(
  ports: PipelinePorts,
  req: IncomingMessage,
  res: ServerResponse,
  ctx: CallerRequest,
  plan: Omit<ForwardPlan, 'extraHeaders'>,
  identity: OutgoingHttpHeaders,
) {
  const { mcpPost, transform } = plan;
  return (c: Sent, decline?: (r: UpstreamHead) => boolean) =>
    forwardUpstream(ports, req, res, ctx, {
      mcpPost,
      transform,
      decline,
      extraHeaders: [c.headers, identity],
    });
}

/** The upstream asked for its own OAuth: find it, then the user's token for it. */
async function afterChallenge(
  ports: PipelinePorts,
  ctx: CallerRequest,
  declined: DeclinedAnswer,
  jsonRpcId: Parameters<typeof judgeCredentials>[3],
): Promise<CredentialsStep> {
  const { route } = ctx.match;
  if (!(await ports.upstream?.learn(route, declined.wwwAuthenticate))) {
    return { ok: false, answer: challengeUnmet(ctx, jsonRpcId), note: 'upstream discovery failed' };
  }
  return upstreamCredentials(ports, ctx, jsonRpcId);
}

/** The upstream wants authorization the gateway could not arrange (its log says why). */
function challengeUnmet(ctx: CallerRequest, id: Parameters<typeof judgeCredentials>[3]): Answer {
  const message = 'the upstream server requires an authorization the gateway could not obtain';
  if (ctx.method === 'POST')
    return { kind: 'json-rpc-error', status: 502, id, code: -32603, message };
  return {
    kind: 'json',
    status: 502,
    body: { error: 'upstream_unauthorized', error_description: message },
  };
}

/** Answers `answer` instead of forwarding: nothing reached the upstream (undefined). */
async function refuse(
  ports: PipelinePorts,
  req: IncomingMessage,
  res: ServerResponse,
  ctx: CallerRequest,
  answer: Answer,
  note: string,
): Promise<undefined> {
  ports.logger.info(
    { req_id: ctx.requestId, route: routeName(ctx.match.route), sub: ctx.session?.sub },
    note,
  );
  await sendAnswer(req, res, answer, ports.startSignIn);
  return undefined;
}
