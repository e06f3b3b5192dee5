/**
 * Evaluation of a parsed policy (PPL) against one request. Pure: no clock, no I/O, no globals.
 *
 * Semantics follow Pomerium's generator (pkg/policy/generator, pkg/policy/criteria):
 * - a user has access when at least one `allow` rule applies and no `deny` rule does; deny wins,
 *   and nothing applying is a denial;
 * - `and`: all terms hold; `or`: any holds; `not`: none holds (¬A ∧ ¬B, what Boolean algebra
 *   calls NOR); `nor`: not all hold (¬A ∨ ¬B, NAND). The names are Pomerium's, the meaning too;
 * - several matchers under one criterion must all hold;
 * - criteria about the user are false when nobody is signed in.
 * See docs/policy.md for the whole language and where we differ from Pomerium.
 */
import type { Condition, Criterion, Policy, StringMatcher } from './parse.js';

export interface PolicyUser {
  /** The user id (`sub`), what the `user` criterion matches. */
  readonly sub: string;
  readonly email: string | null;
  readonly name: string | null;
  readonly groups: readonly string[];
  /** ID-token claims, for `claim/<name>`. */
  readonly claims: Readonly<Record<string, unknown>>;
}

export interface PolicyInput {
  readonly user: PolicyUser | null;
  /** `path` without the query string. */
  readonly http: { readonly method: string; readonly path: string };
  /** The JSON-RPC call being decided; null for a request that is not one (GET, a response). */
  readonly mcp: { readonly method: string; readonly tool: string | null } | null;
}

export interface Decision {
  readonly allow: boolean;
  /** Why, for the log: names the rule and the criteria that decided. Never sent to clients. */
  readonly reason: string;
  /** Index of the deciding rule in the policy; null when nothing applied (default deny). */
  readonly rule: number | null;
  /** The route flag that decided instead of a rule (`route-policy.ts`). */
  readonly flag?: 'allow_public_unauthenticated_access' | 'allow_any_authenticated_user';
}

/**
 * What decided, as a stable name for the audit line and metrics: `policy[i]` (the route's rule
 * i), a route flag's key, or `default-deny` (nothing applied).
 */
export function decidedBy(decision: Decision): string {
  if (decision.rule !== null) return `policy[${decision.rule}]`;
  return decision.flag ?? 'default-deny';
}

/**
 * Whether a condition holds, and why. The explanation is built only when read: most are never
 * needed (a rule that does not decide, every tool judged for a tools/list answer), and building
 * them (quoted values, matchers shown) was most of what evaluating cost.
 */
interface Outcome {
  readonly holds: boolean;
  readonly why: () => string;
}

/**
 * A decision whose `reason` is written the first time it is read. A class, not an object
 * literal with a getter, which V8 builds several times slower than the eager strings.
 */
class Decided implements Decision {
  private written: string | undefined;
  constructor(
    readonly allow: boolean,
    readonly rule: number | null,
    private readonly explain: () => string,
  ) {}
  get reason(): string {
    return (this.written ??= this.explain());
  }
}

function decided(allow: boolean, rule: number | null, explain: () => string): Decision {
  return new Decided(allow, rule, explain);
}

/** Decides `input` against `policy`: deny rules first (deny wins), then allow rules. */
export function evaluate(policy: Policy, input: PolicyInput): Decision {
  for (const [i, rule] of policy.entries()) {
    if (rule.action !== 'deny') continue;
    const out = holds(rule.when, input);
    if (out.holds) return decided(false, i, () => `deny rule ${i} applies: ${out.why()}`);
  }
  const misses: [number, Outcome][] = [];
  for (const [i, rule] of policy.entries()) {
    if (rule.action !== 'allow') continue;
    const out = holds(rule.when, input);
    if (out.holds) return decided(true, i, () => `allow rule ${i} applies: ${out.why()}`);
    misses.push([i, out]);
  }
  return decided(false, null, () => {
    const detail =
      misses.length === 0
        ? 'the policy has no allow rule'
        : misses.map(([i, out]) => `rule ${i}: ${out.why()}`).join('; ');
    return `default deny: no allow rule applies (${detail})`;
  });
}

function holds(cond: Condition, input: PolicyInput): Outcome {
  if (cond.type === 'criterion') return criterion(cond, input);
  const outs = cond.terms.map((t) => holds(t, input));
  const yes = outs.filter((o) => o.holds);
  const no = outs.filter((o) => !o.holds);
  const list = (os: Outcome[]) => os.map((o) => o.why()).join(', ');
  switch (cond.type) {
    case 'and':
      return no.length === 0
        ? { holds: true, why: () => `and[${list(yes)}]` }
        : { holds: false, why: () => `and: ${list(no.slice(0, 1))}` };
    case 'or':
      return yes.length > 0
        ? { holds: true, why: () => `or: ${list(yes.slice(0, 1))}` }
        : { holds: false, why: () => `or: none of [${list(no)}]` };
    case 'not':
      return yes.length === 0
        ? { holds: true, why: () => `not: none of [${list(no)}]` }
        : { holds: false, why: () => `not: ${list(yes.slice(0, 1))}` };
    case 'nor':
      return no.length > 0
        ? { holds: true, why: () => `nor: ${list(no.slice(0, 1))}` }
        : { holds: false, why: () => `nor: all of [${list(yes)}]` };
  }
}

function criterion(c: Criterion, input: PolicyInput): Outcome {
  const user = input.user;
  switch (c.name) {
    case 'accept':
      return { holds: true, why: () => 'accept' };
    case 'authenticated_user':
      return user
        ? { holds: true, why: () => 'authenticated_user' }
        : { holds: false, why: () => 'authenticated_user: no user signed in' };
    case 'email':
      if (!user) return noUser(c.name);
      return matchScalar(c.name, user.email, c.matchers);
    case 'domain':
      if (!user) return noUser(c.name);
      return matchScalar(c.name, emailDomain(user.email), c.matchers);
    case 'user':
      if (!user) return noUser(c.name);
      return matchScalar(c.name, user.sub, c.matchers);
    case 'groups':
      if (!user) return noUser(c.name);
      return matchList(c.name, user.groups, c.matchers);
    case 'claim':
      if (!user) return noUser(`claim/${c.claim}`);
      return matchList(`claim/${c.claim}`, claimValues(user.claims, c.claim), c.matchers);
    case 'http_method':
      return matchScalar(c.name, input.http.method, c.matchers);
    case 'http_path':
      return matchScalar(c.name, input.http.path, c.matchers);
    case 'mcp_method':
      if (!input.mcp) return { holds: false, why: () => 'mcp_method: not an MCP call' };
      return matchScalar(c.name, input.mcp.method, c.matchers);
    case 'mcp_tool':
      // Pomerium ≥ PR 5857: true only for a tools/call whose name matches.
      if (!input.mcp || input.mcp.method !== 'tools/call' || input.mcp.tool === null) {
        return { holds: false, why: () => 'mcp_tool: not a tools/call' };
      }
      return matchScalar(c.name, input.mcp.tool, c.matchers);
  }
}

const noUser = (name: string): Outcome => ({
  holds: false,
  why: () => `${name}: no user signed in`,
});

/** The part after the last `@` (a quoted local part may hold `@`); null without one. */
function emailDomain(email: string | null): string | null {
  if (email === null) return null;
  const at = email.lastIndexOf('@');
  return at > 0 && at < email.length - 1 ? email.slice(at + 1) : null;
}

/** A claim as a list of strings: scalars become one element, lists keep their scalar elements. */
function claimValues(claims: Readonly<Record<string, unknown>>, name: string): string[] {
  // Own properties only: `constructor` or `__proto__` must not reach Object.prototype.
  if (!Object.prototype.hasOwnProperty.call(claims, name)) return [];
  const value = claims[name];
  const items = Array.isArray(value) ? (value as unknown[]) : [value];
  return items.flatMap((v) => {
    const s = scalarString(v);
    return s === null ? [] : [s];
  });
}

function scalarString(v: unknown): string | null {
  if (typeof v === 'string' || typeof v === 'boolean') return String(v);
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return null;
}

function matchScalar(name: string, value: string | null, matchers: readonly StringMatcher[]) {
  if (value === null) return { holds: false, why: () => `${name}: no value` };
  const failed = matchers.find((m) => !stringMatches(value, m));
  return failed
    ? { holds: false, why: () => `${name} ${JSON.stringify(value)} does not match ${show(failed)}` }
    : {
        holds: true,
        why: () => `${name} ${JSON.stringify(value)} matches ${matchers.map(show).join(' and ')}`,
      };
}

/**
 * A list-valued field. `has`: some element equals the value. `is`: the list is exactly that one
 * value (Pomerium's string-list `is`). The other matchers (our extension): some element matches.
 */
function matchList(name: string, values: readonly string[], matchers: readonly StringMatcher[]) {
  const ok = (m: StringMatcher) => {
    if (m.op === 'is') return values.length === 1 && values[0] === m.value;
    return values.some((v) => stringMatches(v, m));
  };
  const failed = matchers.find((m) => !ok(m));
  return failed
    ? {
        holds: false,
        why: () => `${name} ${JSON.stringify(values)} does not match ${show(failed)}`,
      }
    : {
        holds: true,
        why: () => `${name} ${JSON.stringify(values)} matches ${matchers.map(show).join(' and ')}`,
      };
}

function stringMatches(value: string, m: StringMatcher): boolean {
  switch (m.op) {
    case 'is':
    case 'has':
      return value === m.value;
    case 'starts_with':
      return value.startsWith(m.value);
    case 'ends_with':
      return value.endsWith(m.value);
    case 'contains':
      return value.includes(m.value);
    case 'in':
      return m.values.includes(value);
  }
}

const show = (m: StringMatcher): string =>
  m.op === 'in' ? `in ${JSON.stringify(m.values)}` : `${m.op} ${JSON.stringify(m.value)}`;
