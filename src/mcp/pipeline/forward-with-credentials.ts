/**
 * Steps 4 to 6 together: credentials, identity assertion, forward. When the gateway sent an
 * upstream token and the upstream answers 401 to it, that answer is not passed on: the token is
 * refreshed once and the request sent again (its body was read, so it can be); a second 401
 * to a fresh token is the same as a refused refresh (the token is deleted, the client's grant
 * revoked, the client told `invalid_token`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendAnswer } from './answer.js';
import { identityHeaders } from './assertion.js';
import { routeName, type CallerRequest, type PipelinePorts } from './context.js';
import { judgeCredentials, upstreamCredentials, type CredentialsStep } from './credentials.js';
import { forwardUpstream, type ForwardPlan } from './forward-upstream.js';

export async function forwardWithCredentials(
  ports: PipelinePorts,
  req: IncomingMessage,
  res: ServerResponse,
  ctx: CallerRequest,
  plan: Omit<ForwardPlan, 'extraHeaders'>,
): Promise<void> {
  const jsonRpcId = plan.mcpPost?.jsonRpcErrorId ?? null;
  const first = await upstreamCredentials(ports, ctx, jsonRpcId);
  if (!first.ok) return refuse(ports, req, res, ctx, first);
  const identity = await identityHeaders(ports, ctx.match.route, ctx.session);
  // A body still in the request stream cannot be sent twice: only read bodies are retried.
  const replayable = plan.mcpPost !== undefined || ctx.method === 'GET' || ctx.method === 'HEAD';
  const retry = first.version !== undefined && replayable && ports.upstream && ctx.session;
  const send = (credentials: CredentialsStep & { ok: true }, decline: boolean) =>
    forwardUpstream(ports, req, res, ctx, {
      ...plan,
      extraHeaders: { ...credentials.headers, ...identity },
      ...(decline ? { decline: (r: IncomingMessage) => r.statusCode === 401 } : {}),
    });
  if (!retry || first.version === undefined) return void (await send(first, false));
  if (!(await send(first, true)).declined) return;
  const { route } = ctx.match;
  const { sub } = ctx.session;
  const refreshed = await ports.upstream.refreshAfterRejection(route, sub, first.version);
  const second = await judgeCredentials(ports, ctx, refreshed, jsonRpcId);
  if (!second.ok) return refuse(ports, req, res, ctx, second);
  if (!(await send(second, true)).declined) return;
  await ports.upstream.forget(route, sub);
  const gone = await judgeCredentials(ports, ctx, { kind: 'missing' }, jsonRpcId);
  if (!gone.ok) return refuse(ports, req, res, ctx, gone);
}

function refuse(
  ports: PipelinePorts,
  req: IncomingMessage,
  res: ServerResponse,
  ctx: CallerRequest,
  step: CredentialsStep & { ok: false },
): Promise<void> {
  ports.logger.info(
    { req_id: ctx.requestId, route: routeName(ctx.match.route), sub: ctx.session?.sub },
    step.note,
  );
  return sendAnswer(req, res, step.answer, ports.startSignIn);
}
