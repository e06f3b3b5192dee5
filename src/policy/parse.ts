/**
 * Parsing of Pomerium Policy Language (PPL) into a typed tree. Evaluation lives elsewhere; this
 * module only decides what a policy says and reports what it cannot read.
 *
 * A policy is a list of rules (or one rule object, Pomerium's shorthand). A rule is
 * `{allow: BODY}` or `{deny: BODY}`; a BODY holds one or more of `and`, `or`, `not`, `nor`, each a
 * list of criteria or nested operators. A criterion is a one-key object such as
 * `{email: {is: alice@example.com}}` or `{claim/department: sales}`.
 */

export type Path = readonly (string | number)[];
export type Report = (path: Path, message: string) => void;

export type Operator = 'and' | 'or' | 'not' | 'nor';
export const OPERATORS: readonly Operator[] = ['and', 'or', 'not', 'nor'];

export type StringMatcherOp = 'is' | 'starts_with' | 'ends_with' | 'contains';
export type StringMatcher =
  | { readonly op: StringMatcherOp; readonly value: string }
  | { readonly op: 'in'; readonly values: readonly string[] }
  /** `has`: a list-valued field (groups, a list claim) contains the value. */
  | { readonly op: 'has'; readonly value: string };

export type BooleanCriterionName = 'accept' | 'authenticated_user';
export type StringCriterionName =
  'email' | 'domain' | 'user' | 'groups' | 'http_method' | 'http_path' | 'mcp_tool' | 'mcp_method';

export type Criterion =
  | { readonly type: 'criterion'; readonly name: BooleanCriterionName }
  | {
      readonly type: 'criterion';
      readonly name: StringCriterionName;
      readonly matchers: readonly StringMatcher[];
    }
  | {
      readonly type: 'criterion';
      readonly name: 'claim';
      readonly claim: string;
      readonly matchers: readonly StringMatcher[];
    };

export type Condition =
  Criterion | { readonly type: Operator; readonly terms: readonly Condition[] };

export interface Rule {
  readonly action: 'allow' | 'deny';
  /**
   * The rule applies when any operator of its body holds (an `or` of them): Pomerium's generator
   * joins every operator of every rule with the same action by OR.
   */
  readonly when: Condition;
}

export type Policy = readonly Rule[];

const BOOLEAN_CRITERIA: readonly string[] = ['accept', 'authenticated_user'];
const STRING_CRITERIA: readonly string[] = [
  'email',
  'domain',
  'user',
  'groups',
  'http_method',
  'http_path',
  'mcp_tool',
  'mcp_method',
];
const LIST_VALUED: readonly string[] = ['groups', 'claim'];
const STRING_OPS: readonly string[] = ['is', 'starts_with', 'ends_with', 'contains'];

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const describe = (v: unknown): string =>
  v === null ? 'null' : Array.isArray(v) ? 'a list' : isObject(v) ? 'a map' : `${typeof v}`;

/**
 * Parses `value` (the plain data under a `policy` key) into rules. Problems go to `report` with
 * the path under `at`; the returned policy holds only the rules that parsed completely, so a
 * caller must not use it when anything was reported.
 */
export function parsePolicy(value: unknown, report: Report, at: Path = []): Policy {
  if (value === undefined || value === null) return [];
  const items = Array.isArray(value) ? value : [value];
  const rules: Rule[] = [];
  items.forEach((item, i) => {
    const path = Array.isArray(value) ? [...at, i] : at;
    const rule = parseRule(item, report, path);
    if (rule) rules.push(rule);
  });
  return rules;
}

function parseRule(value: unknown, report: Report, at: Path): Rule | undefined {
  if (!isObject(value)) {
    report(at, `expected a rule ({allow: …} or {deny: …}), got ${describe(value)}`);
    return undefined;
  }
  const keys = Object.keys(value);
  const unknown = keys.filter((k) => k !== 'allow' && k !== 'deny');
  for (const k of unknown) report([...at, k], 'unknown rule action: expected allow or deny');
  const actions = keys.filter((k) => k === 'allow' || k === 'deny');
  if (actions.length !== 1) {
    if (unknown.length === 0) report(at, 'a rule has exactly one of allow or deny');
    return undefined;
  }
  const action = actions[0] as 'allow' | 'deny';
  const when = parseBody(value[action], report, [...at, action]);
  return when && unknown.length === 0 ? { action, when } : undefined;
}

function parseBody(value: unknown, report: Report, at: Path): Condition | undefined {
  if (!isObject(value) || Object.keys(value).length === 0) {
    report(at, `expected a map with and, or, not or nor, got ${describe(value)}`);
    return undefined;
  }
  const terms: Condition[] = [];
  let ok = true;
  for (const [key, inner] of Object.entries(value)) {
    if (!(OPERATORS as readonly string[]).includes(key)) {
      report([...at, key], `unknown operator: expected one of ${OPERATORS.join(', ')}`);
      ok = false;
      continue;
    }
    const op = parseOperator(key as Operator, inner, report, [...at, key]);
    if (op) terms.push(op);
    else ok = false;
  }
  if (!ok) return undefined;
  // Several operators in one body: any of them makes the rule apply, as in Pomerium.
  return terms.length === 1 ? terms[0] : { type: 'or', terms };
}

function parseOperator(op: Operator, value: unknown, report: Report, at: Path) {
  if (!Array.isArray(value)) {
    report(at, `expected a list of criteria, got ${describe(value)}`);
    return undefined;
  }
  if (value.length === 0) {
    report(at, 'expected a non-empty list of criteria');
    return undefined;
  }
  const terms = value.map((item, i) => parseTerm(item, report, [...at, i]));
  if (terms.some((t) => t === undefined)) return undefined;
  return { type: op, terms: terms as Condition[] };
}

function parseTerm(value: unknown, report: Report, at: Path): Condition | undefined {
  if (!isObject(value) || Object.keys(value).length !== 1) {
    report(at, `expected a criterion, a map with exactly one key, got ${describe(value)}`);
    return undefined;
  }
  const [key, inner] = Object.entries(value)[0]!;
  if ((OPERATORS as readonly string[]).includes(key)) {
    return parseOperator(key as Operator, inner, report, [...at, key]);
  }
  return parseCriterion(key, inner, report, [...at, key]);
}

function parseCriterion(
  key: string,
  value: unknown,
  report: Report,
  at: Path,
): Criterion | undefined {
  if (BOOLEAN_CRITERIA.includes(key)) {
    if (value !== true && value !== 1) {
      report(at, `expected true, got ${JSON.stringify(value) ?? describe(value)}`);
      return undefined;
    }
    return { type: 'criterion', name: key as BooleanCriterionName };
  }
  if (STRING_CRITERIA.includes(key)) {
    const matchers = parseMatchers(value, LIST_VALUED.includes(key), report, at);
    return matchers && { type: 'criterion', name: key as StringCriterionName, matchers };
  }
  if (key.startsWith('claim/') && key.length > 'claim/'.length) {
    const claim = key.slice('claim/'.length);
    // Pomerium's shorthand: `claim/name: value` means the claim equals (or contains) value.
    const matchers =
      typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
        ? [{ op: 'has' as const, value: String(value) }]
        : parseMatchers(value, true, report, at);
    return matchers && { type: 'criterion', name: 'claim', claim, matchers };
  }
  report(
    at,
    `unknown criterion: expected one of ${[...BOOLEAN_CRITERIA, ...STRING_CRITERIA].join(', ')} or claim/<name>`,
  );
  return undefined;
}

function parseMatchers(
  value: unknown,
  listValued: boolean,
  report: Report,
  at: Path,
): StringMatcher[] | undefined {
  const ops = [...STRING_OPS, 'in', ...(listValued ? ['has'] : [])];
  if (!isObject(value) || Object.keys(value).length === 0) {
    report(at, `expected a matcher map ({${ops.join('|')}: …}), got ${describe(value)}`);
    return undefined;
  }
  const matchers: StringMatcher[] = [];
  let ok = true;
  for (const [op, operand] of Object.entries(value)) {
    const m = parseMatcher(op, operand, ops, report, [...at, op]);
    if (m) matchers.push(m);
    else ok = false;
  }
  return ok ? matchers : undefined;
}

function parseMatcher(
  op: string,
  operand: unknown,
  ops: readonly string[],
  report: Report,
  at: Path,
): StringMatcher | undefined {
  if (!ops.includes(op)) {
    report(at, `unknown matcher: expected one of ${ops.join(', ')}`);
    return undefined;
  }
  if (op === 'in') {
    if (!Array.isArray(operand) || !operand.every((v) => typeof v === 'string')) {
      report(at, `expected a list of strings, got ${describe(operand)}`);
      return undefined;
    }
    return { op: 'in', values: operand as string[] };
  }
  if (typeof operand !== 'string') {
    report(at, `expected a string, got ${describe(operand)}`);
    return undefined;
  }
  return { op: op as StringMatcherOp | 'has', value: operand };
}
