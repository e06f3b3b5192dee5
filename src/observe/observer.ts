/**
 * The observer port: the few points of a request that know something worth counting or
 * tracing call it with plain facts (never a token, a body or an argument). One optional object
 * on the pipeline's ports: absent, every call site is a skipped `?.`, so a gateway without
 * metrics pays nothing. Metrics (`metrics.ts`) implement it today; a tracer can implement the
 * same points (`requestDone` carries the start time and request id a span needs), and
 * `combineObservers` hands each point to both.
 */
import type { UpstreamError } from '../proxy/errors.js';

export interface RequestDone {
  readonly requestId: string;
  /** The route's name (`name`, else `routes[i]`): bounded by the config. */
  readonly route: string;
  /** The JSON-RPC method of a single-message POST, `batch` for several, null for none. */
  readonly mcpMethod: string | null;
  /** `params.name` of a single `tools/call`, else null. */
  readonly tool: string | null;
  /** The status sent to the client (0: the client left before one). */
  readonly status: number;
  /** `performance.now()` when the pipeline took the request. */
  readonly startedAt: number;
  readonly durationMs: number;
}

export interface DecisionMade {
  readonly route: string;
  readonly allow: boolean;
  /** What decided, as the audit line names it (`policy[1]`, `default-deny`, a route flag). */
  readonly rule: string;
}

export type TokenValidation = 'valid' | 'invalid';
export type TokenRefresh = 'ok' | 'refused' | 'failed';
export type UpstreamErrorCode = UpstreamError['code'];

export interface Observer {
  /** A request on a route was answered (the upstream's stream ended, or the gateway answered). */
  requestDone(done: RequestDone): void;
  /** Policy decided one call (or a request without calls). */
  decision(made: DecisionMade): void;
  /** An MCP client's bearer token was checked. */
  tokenValidation(outcome: TokenValidation): void;
  /** An upstream token was refreshed at its provider (or the provider refused, or failed). */
  tokenRefresh(outcome: TokenRefresh): void;
  /** Forwarding to the route's upstream failed. */
  upstreamError(route: string, code: UpstreamErrorCode): void;
  /** A storage operation took `ms` (`op` from a fixed list of the caller's). */
  storageLatency(op: string, ms: number): void;
}

/** One observer that tells each of `observers` (none: undefined, so call sites skip). */
export function combineObservers(
  ...observers: readonly (Observer | undefined)[]
): Observer | undefined {
  const all = observers.filter((o): o is Observer => o !== undefined);
  if (all.length <= 1) return all[0];
  return {
    requestDone: (done) => all.forEach((o) => o.requestDone(done)),
    decision: (made) => all.forEach((o) => o.decision(made)),
    tokenValidation: (outcome) => all.forEach((o) => o.tokenValidation(outcome)),
    tokenRefresh: (outcome) => all.forEach((o) => o.tokenRefresh(outcome)),
    upstreamError: (route, code) => all.forEach((o) => o.upstreamError(route, code)),
    storageLatency: (op, ms) => all.forEach((o) => o.storageLatency(op, ms)),
  };
}
