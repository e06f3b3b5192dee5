/**
 * Step 3: decide. Policy for the request as a whole (GET, DELETE, plain routes) or for each
 * JSON-RPC call of a POST, failing closed: every call must be allowed, a batch is refused
 * whole. Pure: caller and calls in, decisions and the answer to a refusal out.
 */
import type { RouteConfig } from '../../config/types.js';
import { acceptsHtml } from '../../core/media-type.js';
import { NOT_SIGNED_IN, NOT_SIGNED_IN_REASON } from '../../core/not-signed-in.js';
import type { Decision } from '../../policy/evaluate.js';
import { decideRoute } from '../../policy/route-policy.js';
import { authorizeMcpRequest, deniedResponse, type DecideCall } from '../authorize.js';
import type { InspectedCalls, JsonRpcId } from '../inspect.js';
import type { Answer } from './answer.js';
import { policyInput, type CallerRequest } from './context.js';
import { unauthorizedAnswer } from './cors.js';

export type Verdict =
  | {
      readonly allow: true;
      /** Each call's decision, in body order (for the log). */
      readonly decisions: readonly Decision[];
      /** The same judge, for the response transform (tools/list shows what may be called). */
      readonly decideCall: DecideCall;
      /** The id a gateway error on this POST answers. */
      readonly jsonRpcErrorId: JsonRpcId | null;
    }
  | { readonly allow: false; readonly decisions: readonly Decision[]; readonly answer: Answer };

/** The route's policy over a request without JSON-RPC calls (GET, DELETE, plain routes). */
export function decideRequest(ctx: CallerRequest): {
  readonly decision: Decision;
  readonly answer?: Answer;
} {
  const decision = decideRoute(ctx.match.route, policyInput(ctx, null));
  return decision.allow ? { decision } : { decision, answer: refusalAnswer(ctx) };
}

/** The route's policy over every call of a POST; allowed only when each call is. */
export function decideCalls(ctx: CallerRequest, inspected: InspectedCalls): Verdict {
  const route = ctx.match.route;
  const decideCall: DecideCall = (call) => decideRoute(route, policyInput(ctx, call));
  const verdict = authorizeMcpRequest(inspected.calls, decideCall, inspected.responses);
  const decisions = verdict.decisions.slice(0, inspected.calls.length);
  if (verdict.allow) {
    const jsonRpcErrorId = inspected.calls.find((c) => c.id !== null)?.id ?? null;
    return { allow: true, decisions, decideCall, jsonRpcErrorId };
  }
  if (!ctx.session) return { allow: false, decisions, answer: refusalAnswer(ctx) };
  const denied = deniedResponse(inspected.calls, verdict.denial, ctx.requestId, inspected.batch);
  const answer: Answer = { kind: 'text', ...denied };
  return { allow: false, decisions, answer };
}

/**
 * Like Pomerium, a route that needs a user asks for one before reading any body: the answer
 * to an anonymous caller on such a route, or undefined to go on.
 */
export function signInFirst(ctx: CallerRequest): Answer | undefined {
  if (ctx.session || ctx.match.route.allowPublicUnauthenticatedAccess) return undefined;
  return refusalAnswer(ctx);
}

/** Nobody signed in: a browser is sent to sign in, anything else gets 401; else 403. */
export function refusalAnswer(ctx: CallerRequest): Answer {
  if (ctx.session) {
    const error_description = `access denied by policy; see the authorization log for request ${ctx.requestId}`;
    return { kind: 'json', status: 403, body: { error: 'forbidden', error_description } };
  }
  if (acceptsHtml(ctx.accept) && (ctx.method === 'GET' || ctx.method === 'HEAD')) {
    return { kind: 'sign-in', returnTo: ctx.url };
  }
  return notSignedIn(ctx.match.route, ctx.origin);
}

function notSignedIn(route: RouteConfig, origin: string | undefined): Answer {
  if (route.mcp?.kind === 'server') return unauthorizedAnswer(route, origin);
  return { kind: 'json', status: 401, body: NOT_SIGNED_IN, statusMessage: NOT_SIGNED_IN_REASON };
}
