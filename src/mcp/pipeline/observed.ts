/** The facts the pipeline hands its observer (`observe/observer.ts`), built from its data. */
import { decidedBy, type Decision } from '../../policy/evaluate.js';
import type { DecisionMade, RequestDone } from '../../observe/observer.js';
import type { McpCall } from '../inspect.js';
import { routeName, type CallerRequest, type RouteRequest } from './context.js';

export function requestDone(
  ctx: RouteRequest,
  calls: readonly McpCall[] | undefined,
  status: number,
): RequestDone {
  const single = calls?.length === 1 ? calls[0]! : undefined;
  const mcpMethod = single ? single.method : calls && calls.length > 1 ? 'batch' : null;
  const now = performance.now();
  return {
    requestId: ctx.requestId,
    route: routeName(ctx.match.route),
    mcpMethod,
    tool: single?.tool ?? null,
    status,
    startedAt: ctx.startedAt,
    durationMs: now - ctx.startedAt,
  };
}

export function decisionMade(ctx: CallerRequest, decision: Decision): DecisionMade {
  return { route: routeName(ctx.match.route), allow: decision.allow, rule: decidedBy(decision) };
}
