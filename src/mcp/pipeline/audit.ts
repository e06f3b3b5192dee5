/**
 * The audit line: one pino line (`audit: true`, `msg: 'audit'`) for every tool call, written
 * after the upstream answered, and for every call or request policy denied, written as it is
 * refused. It says who (user, MCP client), where (route, methods, tool), what decided (the
 * decision and the stable name of the rule), how long and how the upstream answered, and the
 * names of the tool's arguments. It never holds an argument value, a token, a cookie or an
 * assertion: the record is built here from named fields only, never from the request.
 */
import type { Logger } from 'pino';
import { decidedBy, type Decision } from '../../policy/evaluate.js';
import type { ForwardResult } from '../../proxy/forward.js';
import type { McpCall } from '../inspect.js';
import { writeInfoLine } from '../../core/log-line.js';
import { routeName, type CallerRequest } from './context.js';

/** What became of the request, besides who made it. */
export interface AuditOutcome {
  readonly call: McpCall | null;
  readonly decision: Decision;
  /** The forward's result; undefined when nothing was forwarded (a denial, a refused token). */
  readonly forwarded: ForwardResult | undefined;
  /** `performance.now()` when the outcome was known. */
  readonly at: number;
}

export interface AuditRecord {
  readonly audit: true;
  readonly req_id: string;
  readonly route: string;
  readonly user: {
    readonly sub: string;
    readonly email: string | null;
    readonly groups: readonly string[];
  } | null;
  readonly client: { readonly id: string; readonly name: string | null } | null;
  readonly http_method: string;
  readonly mcp_method: string | null;
  readonly tool: string | null;
  readonly decision: 'allow' | 'deny';
  readonly rule: string;
  /**
   * Why a call was denied, in the policy's words (criteria and the caller's own values, never
   * arguments); null on an allowed call, which `rule` explains: written out on every call, it
   * cost more than the policy's decision itself.
   */
  readonly reason: string | null;
  readonly duration_ms: number;
  /** The status the upstream answered; null when it was not asked or gave no answer. */
  readonly upstream_status: number | null;
  /** The upstream failure's stable code (`ERR_UPSTREAM_TIMEOUT`…), when there was one. */
  readonly upstream_error?: string;
  readonly argument_keys: readonly string[];
}

/** Argument names are the client's to choose: the line keeps a bounded number of them. */
const MAX_KEYS = 64;
const MAX_KEY_LENGTH = 100;

export function auditRecord(ctx: CallerRequest, outcome: AuditOutcome): AuditRecord {
  const { call, decision, forwarded } = outcome;
  const s = ctx.session;
  const failed = forwarded?.error;
  const record: { -readonly [K in keyof AuditRecord]: AuditRecord[K] } = {
    audit: true,
    req_id: ctx.requestId,
    route: routeName(ctx.match.route),
    user: s ? { sub: s.sub, email: s.email, groups: s.groups } : null,
    client: ctx.client ? { id: ctx.client.id, name: ctx.client.name } : null,
    http_method: ctx.method,
    mcp_method: call?.method ?? null,
    tool: call?.tool ?? null,
    decision: decision.allow ? 'allow' : 'deny',
    rule: decidedBy(decision),
    reason: decision.allow ? null : decision.reason,
    duration_ms: Math.round((outcome.at - ctx.startedAt) * 1000) / 1000,
    upstream_status: forwarded && !failed && forwarded.status > 0 ? forwarded.status : null,
    argument_keys: argumentKeys(call),
  };
  // Set, not spread in: this runs on every tool call.
  if (failed) record.upstream_error = failed.code;
  return record;
}

function argumentKeys(call: McpCall | null): readonly string[] {
  const keys = call?.argumentKeys ?? [];
  const kept = keys.length > MAX_KEYS ? keys.slice(0, MAX_KEYS) : keys;
  return kept.some((k) => k.length > MAX_KEY_LENGTH)
    ? kept.map((k) => k.slice(0, MAX_KEY_LENGTH))
    : kept;
}

/** Writes the audit line of `outcome`. */
export function audit(logger: Logger, ctx: CallerRequest, outcome: AuditOutcome): void {
  if (logger.isLevelEnabled('info'))
    writeInfoLine(logger, auditFields(auditRecord(ctx, outcome)), 'audit');
}

/**
 * The record's members as `JSON.stringify` writes them, in its key order, each after a comma
 * (what `writeInfoLine` takes): built in one pass, as this runs on every tool call.
 */
export function auditFields(r: AuditRecord): string {
  const u = r.user;
  const c = r.client;
  let out =
    `,"audit":true,"req_id":${str(r.req_id)},"route":${str(r.route)},"user":` +
    (u ? `{"sub":${str(u.sub)},"email":${str(u.email)},"groups":${strings(u.groups)}}` : 'null') +
    `,"client":${c ? `{"id":${str(c.id)},"name":${str(c.name)}}` : 'null'}` +
    `,"http_method":${str(r.http_method)},"mcp_method":${str(r.mcp_method)},"tool":${str(r.tool)}` +
    `,"decision":${str(r.decision)},"rule":${str(r.rule)},"reason":${str(r.reason)}` +
    `,"duration_ms":${num(r.duration_ms)},"upstream_status":${num(r.upstream_status)}` +
    `,"argument_keys":${strings(r.argument_keys)}`;
  if (r.upstream_error !== undefined) out += `,"upstream_error":${str(r.upstream_error)}`;
  return out;
}

const str = (s: string | null): string => (s === null ? 'null' : JSON.stringify(s));
const num = (n: number | null): string => (n === null || !Number.isFinite(n) ? 'null' : String(n));

function strings(list: readonly string[]): string {
  let out = '[';
  for (let i = 0; i < list.length; i++) out += (i === 0 ? '' : ',') + JSON.stringify(list[i]);
  return out + ']';
}

/** The calls of an allowed POST that get an audit line once the upstream answered. */
export const isToolCall = (call: McpCall): boolean => call.method === 'tools/call';
