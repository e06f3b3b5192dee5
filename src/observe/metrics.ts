/**
 * Prometheus metrics (prom-client), one registry per gateway (never the process-global one: two
 * gateways in a process, or a test beside a gateway, keep their counts apart). Names are under
 * `portcullis_` and listed in docs/observability.md. Every label has a bounded set of values:
 * route names come from the config (anything else is `other`), MCP methods from the list the
 * specification defines (anything else is `other`), statuses are numbers, outcomes fixed words.
 */
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import type { Observer, UpstreamErrorCode } from './observer.js';

/** MCP 2025-11-25 methods a client sends (requests and notifications). */
export const MCP_METHODS: ReadonlySet<string> = new Set([
  'initialize',
  'ping',
  'tools/list',
  'tools/call',
  'resources/list',
  'resources/templates/list',
  'resources/read',
  'resources/subscribe',
  'resources/unsubscribe',
  'prompts/list',
  'prompts/get',
  'completion/complete',
  'logging/setLevel',
  'tasks/get',
  'tasks/list',
  'tasks/result',
  'tasks/cancel',
  'notifications/initialized',
  'notifications/cancelled',
  'notifications/progress',
  'notifications/roots/list_changed',
]);

/** The label of a request's MCP method: `none` without one, `batch`, a known method, `other`. */
export function mcpMethodLabel(method: string | null): string {
  if (method === null) return 'none';
  if (method === 'batch' || MCP_METHODS.has(method)) return method;
  return 'other';
}

/** The label of a status: a number an HTTP status can be, else `0`. */
export function statusLabel(status: number): string {
  return Number.isInteger(status) && status >= 100 && status <= 599 ? String(status) : '0';
}

const UPSTREAM_KINDS: Readonly<Record<UpstreamErrorCode, string>> = {
  ERR_UPSTREAM_UNAVAILABLE: 'unavailable',
  ERR_UPSTREAM_TIMEOUT: 'timeout',
  ERR_UPSTREAM_ABORTED: 'aborted',
};

/** Seconds: from a cached answer (sub-millisecond) to a long tool call. */
const DURATION_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];
const STORAGE_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 1];

/** Storage operations timed (`storageLatency`); others are `other`. */
export const STORAGE_OPS: ReadonlySet<string> = new Set([
  'session_get',
  'identity_get',
  'oauth_find',
  'upstream_token_get',
]);

export interface Metrics {
  readonly registry: Registry;
  readonly observer: Observer;
}

/** The metrics of a gateway whose routes are named `routeNames` (`name`, else `routes[i]`). */
export function createMetrics(routeNames: readonly string[]): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'portcullis_' });
  const known = new Set(routeNames);
  const route = (name: string) => (known.has(name) ? name : 'other');
  const m = instruments(registry);
  // The children of the labelled series, made once each: prom-client's `labels()` hashes its
  // values on every call, which the request path would pay several times per request. The
  // labels are bounded (above), so are these maps.
  const requests = children((r, status, method) => m.requests.labels(r, status, method));
  const duration = children((r, method) => m.duration.labels(r, method));
  const decisions = children((r, outcome) => m.decisions.labels(r, outcome));
  const validations = children((outcome) => m.validations.labels(outcome));
  const storage = children((op) => m.storage.labels(op));
  const observer: Observer = {
    requestDone(done) {
      const r = route(done.route);
      const method = mcpMethodLabel(done.mcpMethod);
      requests(r, statusLabel(done.status), method).inc();
      duration(r, method).observe(done.durationMs / 1000);
    },
    decision: (made) => decisions(route(made.route), made.allow ? 'allow' : 'deny').inc(),
    tokenValidation: (outcome) => validations(outcome).inc(),
    tokenRefresh: (outcome) => m.refreshes.labels(outcome).inc(),
    upstreamError: (name, code) =>
      m.upstreamErrors.labels(route(name), UPSTREAM_KINDS[code] ?? 'other').inc(),
    storageLatency: (op, ms) => storage(STORAGE_OPS.has(op) ? op : 'other').observe(ms / 1000),
  };
  return { registry, observer };
}

/** `make` for each distinct list of label values, remembered. */
function children<T>(make: (...values: string[]) => T): (...values: string[]) => T {
  const made = new Map<string, T>();
  return (...values) => {
    const key = values.join('\u0000');
    let child = made.get(key);
    if (child === undefined) made.set(key, (child = make(...values)));
    return child;
  };
}

function instruments(registry: Registry) {
  const registers = [registry];
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    new Counter<L>({ name, help, labelNames, registers });
  const histogram = <L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    buckets: number[],
  ) => new Histogram<L>({ name, help, labelNames, buckets, registers });
  return {
    requests: counter(
      'portcullis_requests_total',
      'Requests answered on a route, by route, status and MCP method.',
      ['route', 'status', 'mcp_method'],
    ),
    duration: histogram(
      'portcullis_request_duration_seconds',
      'Time from a request reaching the route pipeline to its answer (a stream: its end).',
      ['route', 'mcp_method'],
      DURATION_BUCKETS,
    ),
    decisions: counter(
      'portcullis_policy_decisions_total',
      'Policy decisions (one per JSON-RPC call, or per request without calls).',
      ['route', 'outcome'],
    ),
    validations: counter(
      'portcullis_token_validations_total',
      'Bearer tokens MCP clients presented, by outcome.',
      ['outcome'],
    ),
    refreshes: counter(
      'portcullis_upstream_token_refreshes_total',
      'Upstream token refreshes at their providers, by outcome.',
      ['outcome'],
    ),
    upstreamErrors: counter(
      'portcullis_upstream_errors_total',
      'Failures to get an answer from a route upstream, by kind.',
      ['route', 'kind'],
    ),
    storage: histogram(
      'portcullis_storage_operation_duration_seconds',
      'Time storage took for the operations on the request path.',
      ['op'],
      STORAGE_BUCKETS,
    ),
  };
}
