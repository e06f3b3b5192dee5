/**
 * Prometheus metrics (prom-client), one registry per gateway (never the process-global one: two
 * gateways in a process, or a test beside a gateway, keep their counts apart). Names are under
 * `portcullis_` and listed in docs/observability.md. Every label has a bounded set of values:
 * route names come from the config (anything else is `other`), MCP methods from the list the
 * specification defines (anything else is `other`), statuses are numbers, outcomes fixed words.
 */
import { collectDefaultMetrics, Registry } from 'prom-client';
import { CounterFamily, HistogramFamily, type Label } from './families.js';
import type { Observer, TokenRefresh, TokenValidation, UpstreamErrorCode } from './observer.js';

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

/** `mcp_method`'s values: the methods above, `batch`, then `none` and `other` (never matched). */
const METHOD = label('mcp_method', [...MCP_METHODS, 'batch'], ['none', 'other']);
const NO_METHOD = METHOD.values.indexOf('none');

/** The index in METHOD of a request's MCP method (`mcpMethodLabel`'s value). */
function methodIndex(method: string | null): number {
  return method === null ? NO_METHOD : METHOD.index(method);
}

/** The label of a request's MCP method: `none` without one, `batch`, a known method, `other`. */
export function mcpMethodLabel(method: string | null): string {
  return METHOD.values[methodIndex(method)] as string;
}

/** Label values of a status, by `statusIndex`: `0`, then `100` to `599`. */
const STATUS_LABELS = ['0', ...Array.from({ length: 500 }, (_, i) => String(100 + i))];

/** The index in STATUS_LABELS of a status: a number an HTTP status can be, else `0`'s. */
function statusIndex(status: number): number {
  return Number.isInteger(status) && status >= 100 && status <= 599 ? status - 99 : 0;
}

/** The label of a status: a number an HTTP status can be, else `0`. */
export function statusLabel(status: number): string {
  return STATUS_LABELS[statusIndex(status)] as string;
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
  const l = labels(routeNames);
  const m = families(registry, l);
  const { route } = l;
  // Each point finds its series by the indices of its label values (families.ts): no string
  // is built, hashed or validated per request beyond the route's and the method's look-up.
  const observer: Observer = {
    requestDone(done) {
      const r = route.index(done.route);
      const mcp = methodIndex(done.mcpMethod);
      m.requests.at(r, statusIndex(done.status), mcp).inc();
      m.duration.at(r, mcp).observe(done.durationMs / 1000);
    },
    decision: (made) =>
      m.decisions
        .at(route.index(made.route), l.decision.index(made.allow ? 'allow' : 'deny'))
        .inc(),
    tokenValidation: (outcome) => m.validations.at(l.validation.index(outcome)).inc(),
    tokenRefresh: (outcome) => m.refreshes.at(l.refresh.index(outcome)).inc(),
    upstreamError: (name, code) =>
      m.upstreamErrors.at(route.index(name), l.kind.index(UPSTREAM_KINDS[code] ?? 'other')).inc(),
    storageLatency: (op, ms) => m.storage.at(l.op.index(op)).observe(ms / 1000),
  };
  return { registry, observer };
}

interface IndexedLabel extends Label {
  /** The index in `values` of a `known` value; any other value: the index of `other`. */
  index(value: string): number;
}

/**
 * The label `name`: its values are `known` then `unmatched` (once each); `index` finds only the
 * `known` ones, anything else is `other` (-1 without it: out of range, `at()` refuses it).
 */
function label(name: string, known: Iterable<string>, unmatched: string[] = []): IndexedLabel {
  const matched = [...known];
  const values = [...new Set([...matched, ...unmatched])];
  const at = new Map(matched.map((value) => [value, values.indexOf(value)]));
  const other = values.indexOf('other');
  return { name, values, index: (value) => at.get(value) ?? other };
}

/** Every label's values: bounded, whatever a request carries. */
function labels(routeNames: readonly string[]) {
  return {
    route: label('route', routeNames, ['other']),
    method: METHOD,
    status: { name: 'status', values: STATUS_LABELS },
    decision: label('outcome', ['allow', 'deny']),
    validation: label('outcome', ['valid', 'invalid'] satisfies TokenValidation[]),
    refresh: label('outcome', ['ok', 'refused', 'failed'] satisfies TokenRefresh[]),
    kind: label('kind', Object.values(UPSTREAM_KINDS), ['other']),
    op: label('op', STORAGE_OPS, ['other']),
  };
}

function families(registry: Registry, l: ReturnType<typeof labels>) {
  const counter = (name: string, help: string, labelList: readonly Label[]) =>
    new CounterFamily(name, help, labelList).register(registry);
  const histogram = (name: string, help: string, labelList: readonly Label[], buckets: number[]) =>
    new HistogramFamily(name, help, labelList, buckets).register(registry);
  return {
    requests: counter(
      'portcullis_requests_total',
      'Requests answered on a route, by route, status and MCP method.',
      [l.route, l.status, l.method],
    ),
    duration: histogram(
      'portcullis_request_duration_seconds',
      'Time from a request reaching the route pipeline to its answer (a stream: its end).',
      [l.route, l.method],
      DURATION_BUCKETS,
    ),
    decisions: counter(
      'portcullis_policy_decisions_total',
      'Policy decisions (one per JSON-RPC call, or per request without calls).',
      [l.route, l.decision],
    ),
    validations: counter(
      'portcullis_token_validations_total',
      'Bearer tokens MCP clients presented, by outcome.',
      [l.validation],
    ),
    refreshes: counter(
      'portcullis_upstream_token_refreshes_total',
      'Upstream token refreshes at their providers, by outcome.',
      [l.refresh],
    ),
    upstreamErrors: counter(
      'portcullis_upstream_errors_total',
      'Failures to get an answer from a route upstream, by kind.',
      [l.route, l.kind],
    ),
    storage: histogram(
      'portcullis_storage_operation_duration_seconds',
      'Time storage took for the operations on the request path.',
      [l.op],
      STORAGE_BUCKETS,
    ),
  };
}
