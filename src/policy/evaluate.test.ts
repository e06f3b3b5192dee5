import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePolicy, type Policy } from './parse.js';
import { evaluate, type PolicyInput, type PolicyUser } from './evaluate.js';

function policy(value: unknown): Policy {
  const errors: string[] = [];
  const parsed = parsePolicy(value, (path, message) =>
    errors.push(`${path.join('.')}: ${message}`),
  );
  assert.deepEqual(errors, []);
  return parsed;
}

const alice: PolicyUser = {
  sub: 'u-123',
  email: 'alice@example.com',
  name: 'Alice',
  groups: ['admins', 'dev'],
  claims: {
    department: 'sales',
    roles: ['reader', 'writer'],
    level: 3,
    active: true,
    nested: { a: 1 },
    mixed: ['x', 7, null, { y: 1 }, false],
  },
};

const base: PolicyInput = {
  user: alice,
  http: { method: 'POST', path: '/mcp/x' },
  mcp: { method: 'tools/call', tool: 'read_query' },
};

/** Whether `allow: {and: [criterion]}` allows `input`. */
const allows = (criterion: object, input: PolicyInput = base) =>
  evaluate(policy({ allow: { and: [criterion] } }), input).allow;

const SCALARS: Record<string, string> = {
  email: 'alice@example.com',
  domain: 'example.com',
  user: 'u-123',
  http_method: 'POST',
  http_path: '/mcp/x',
  mcp_tool: 'read_query',
  mcp_method: 'tools/call',
};

for (const [name, value] of Object.entries(SCALARS)) {
  test(`${name}: every string matcher, match and no match`, () => {
    const cases: [object, boolean][] = [
      [{ is: value }, true],
      [{ is: value + 'x' }, false],
      [{ is: value.toUpperCase() === value ? value.toLowerCase() : value.toUpperCase() }, false],
      [{ starts_with: value.slice(0, 3) }, true],
      [{ starts_with: 'zzz' }, false],
      [{ ends_with: value.slice(-3) }, true],
      [{ ends_with: 'zzz' }, false],
      [{ contains: value.slice(1, -1) }, true],
      [{ contains: 'zzz' }, false],
      [{ in: ['other', value] }, true],
      [{ in: ['other'] }, false],
      [{ in: [] }, false],
      // Several matchers in one criterion must all hold.
      [{ starts_with: value.slice(0, 2), ends_with: value.slice(-2) }, true],
      [{ starts_with: value.slice(0, 2), ends_with: 'zzz' }, false],
    ];
    for (const [matcher, expected] of cases) {
      assert.equal(allows({ [name]: matcher }), expected, `${name} ${JSON.stringify(matcher)}`);
    }
  });
}

const LISTS: Record<string, readonly string[]> = {
  groups: ['admins', 'dev'],
  'claim/roles': ['reader', 'writer'],
};

for (const [name, values] of Object.entries(LISTS)) {
  test(`${name}: list matchers hold when any element matches; is needs exactly that one`, () => {
    const cases: [object, boolean][] = [
      [{ has: values[1]! }, true],
      [{ has: 'ops' }, false],
      // Pomerium's string-list `is`: the list is exactly [value].
      [{ is: values[0]! }, false],
      [{ starts_with: values[1]!.slice(0, 2) }, true],
      [{ starts_with: 'zz' }, false],
      [{ ends_with: values[0]!.slice(-2) }, true],
      [{ ends_with: 'zz' }, false],
      [{ contains: values[0]!.slice(1, 3) }, true],
      [{ contains: 'zz' }, false],
      [{ in: ['ops', values[0]!] }, true],
      [{ in: ['ops'] }, false],
      [{ has: values[0]!, ends_with: values[1]!.slice(-2) }, true],
      [{ has: values[0]!, ends_with: 'zz' }, false],
    ];
    for (const [matcher, expected] of cases) {
      assert.equal(allows({ [name]: matcher }), expected, `${name} ${JSON.stringify(matcher)}`);
    }
  });
}

test('claims: scalars are one-element lists; numbers and booleans compare as strings', () => {
  assert.equal(allows({ 'claim/department': 'sales' }), true);
  assert.equal(allows({ 'claim/department': 'hr' }), false);
  assert.equal(allows({ 'claim/department': { is: 'sales' } }), true);
  assert.equal(allows({ 'claim/department': { starts_with: 'sa' } }), true);
  assert.equal(allows({ 'claim/level': 3 }), true);
  assert.equal(allows({ 'claim/level': '3' }), true);
  assert.equal(allows({ 'claim/level': 4 }), false);
  assert.equal(allows({ 'claim/active': true }), true);
  assert.equal(allows({ 'claim/active': 'false' }), false);
  assert.equal(allows({ 'claim/roles': 'writer' }), true);
  // Lists keep only their scalar elements.
  assert.equal(allows({ 'claim/mixed': '7' }), true);
  assert.equal(allows({ 'claim/mixed': 'false' }), true);
  assert.equal(allows({ 'claim/mixed': 'null' }), false);
  assert.equal(allows({ 'claim/mixed': '[object Object]' }), false);
  assert.equal(allows({ 'claim/nested': '[object Object]' }), false);
  assert.equal(allows({ 'claim/missing': { in: ['', 'x'] } }), false);
});

test('claims are own properties only: inherited names never match', () => {
  for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
    assert.equal(allows({ [`claim/${name}`]: { contains: '' } }), false, name);
  }
});

test('domain: the part after the last @; none without a usable @', () => {
  const withEmail = (email: string | null): PolicyInput => ({ ...base, user: { ...alice, email } });
  assert.equal(allows({ domain: { is: 'example.com' } }, withEmail('"a@b"@example.com')), true);
  assert.equal(allows({ domain: { is: 'b' } }, withEmail('"a@b"@example.com')), false);
  for (const email of ['alice', 'alice@', '@example.com', null]) {
    assert.equal(allows({ domain: { contains: '' } }, withEmail(email)), false, String(email));
  }
  assert.equal(allows({ email: { contains: '' } }, withEmail(null)), false);
});

test('accept and authenticated_user', () => {
  assert.equal(allows({ accept: true }), true);
  assert.equal(allows({ accept: true }, { ...base, user: null }), true);
  assert.equal(allows({ authenticated_user: true }), true);
  assert.equal(allows({ authenticated_user: true }, { ...base, user: null }), false);
});

test('no user: every criterion about the user is false, whatever the matcher', () => {
  const anon = { ...base, user: null };
  for (const criterion of [
    { email: { contains: '' } },
    { domain: { contains: '' } },
    { user: { contains: '' } },
    { groups: { contains: '' } },
    { 'claim/department': { contains: '' } },
    { authenticated_user: true },
  ]) {
    assert.equal(allows(criterion, anon), false, JSON.stringify(criterion));
    // And under `not`, so a negated user criterion does admit the anonymous request: PPL's
    // meaning, which is why deny rules are the place for user criteria under not.
    assert.equal(evaluate(policy({ allow: { not: [criterion] } }), anon).allow, true);
  }
  const d = evaluate(policy({ allow: { and: [{ email: { is: 'a@b' } }] } }), anon);
  assert.match(d.reason, /email: no user signed in/);
});

test('mcp_tool holds only for a tools/call; mcp_method needs an MCP call', () => {
  const call = (method: string, tool: string | null): PolicyInput => ({
    ...base,
    mcp: { method, tool },
  });
  assert.equal(allows({ mcp_tool: { is: 'read_query' } }, call('tools/call', 'read_query')), true);
  assert.equal(allows({ mcp_tool: { contains: '' } }, call('tools/list', null)), false);
  assert.equal(allows({ mcp_tool: { contains: '' } }, call('initialize', null)), false);
  assert.equal(allows({ mcp_tool: { contains: '' } }, call('tools/call', null)), false);
  assert.equal(allows({ mcp_tool: { contains: '' } }, { ...base, mcp: null }), false);
  assert.equal(allows({ mcp_method: { is: 'tools/list' } }, call('tools/list', null)), true);
  assert.equal(allows({ mcp_method: { contains: '' } }, { ...base, mcp: null }), false);
  // A deny on a tool leaves other methods alone.
  const p = policy([
    { allow: { and: [{ authenticated_user: true }] } },
    { deny: { or: [{ mcp_tool: { is: 'update' } }] } },
  ]);
  assert.equal(evaluate(p, call('tools/list', null)).allow, true);
  assert.equal(evaluate(p, call('tools/call', 'update')).allow, false);
  assert.equal(evaluate(p, call('tools/call', 'read_query')).allow, true);
});

const T = { accept: true };
const F = { http_method: { is: 'NOPE' } };

test("operators: and, or, and Pomerium's not (none holds) and nor (not all hold)", () => {
  const table: [string, object[], boolean][] = [
    ['and', [T, T], true],
    ['and', [T, F], false],
    ['and', [F, F], false],
    ['or', [T, F], true],
    ['or', [F, T], true],
    ['or', [F, F], false],
    ['not', [F, F], true],
    ['not', [T, F], false],
    ['not', [T, T], false],
    ['nor', [F, F], true],
    ['nor', [T, F], true],
    ['nor', [T, T], false],
    ['not', [F], true],
    ['not', [T], false],
    ['nor', [F], true],
    ['nor', [T], false],
  ];
  for (const [op, terms, expected] of table) {
    const d = evaluate(policy({ allow: { [op]: terms } }), base);
    assert.equal(d.allow, expected, `${op} ${JSON.stringify(terms)}`);
  }
});

test('operators nest', () => {
  const p = policy({ allow: { and: [{ or: [F, { not: [F] }] }, { nor: [T, F] }] } });
  assert.equal(evaluate(p, base).allow, true);
  const q = policy({ allow: { and: [{ or: [F, { not: [T] }] }] } });
  assert.equal(evaluate(q, base).allow, false);
});

test('several operators in one rule body: any of them makes the rule apply', () => {
  assert.equal(evaluate(policy({ allow: { and: [F], or: [T] } }), base).allow, true);
  assert.equal(evaluate(policy({ allow: { and: [F], not: [T] } }), base).allow, false);
  // In a deny rule, too: the deny fires when any of its operators holds.
  const p = policy([{ allow: { and: [T] } }, { deny: { and: [F], or: [T] } }]);
  assert.equal(evaluate(p, base).allow, false);
});

test('deny wins over allow, whatever the order; the deciding rule is named', () => {
  const denyAlice = { deny: { and: [{ email: { is: 'alice@example.com' } }] } };
  const allowAll = { allow: { and: [{ accept: true }] } };
  const p = policy([denyAlice, allowAll]);
  const d = evaluate(p, base);
  assert.deepEqual([d.allow, d.rule], [false, 0]);
  assert.match(d.reason, /^deny rule 0 applies: .*email "alice@example.com" matches is/);
  const q = policy([allowAll, denyAlice]);
  assert.deepEqual([evaluate(q, base).allow, evaluate(q, base).rule], [false, 1]);
  const r = policy([
    { allow: { and: [F] } },
    { allow: { or: [{ groups: { has: 'dev' } }] } },
    { deny: { and: [F] } },
  ]);
  const e = evaluate(r, base);
  assert.deepEqual([e.allow, e.rule], [true, 1]);
  assert.match(e.reason, /^allow rule 1 applies: or: groups \["admins","dev"\] matches has "dev"/);
});

test('default deny: nothing applies, or no rules at all', () => {
  const d = evaluate(policy([{ allow: { and: [F] } }, { deny: { and: [F] } }]), base);
  assert.deepEqual([d.allow, d.rule], [false, null]);
  assert.match(d.reason, /^default deny: no allow rule applies \(rule 0: and: http_method "POST"/);
  const e = evaluate([], base);
  assert.deepEqual([e.allow, e.rule], [false, null]);
  assert.match(e.reason, /no allow rule/);
  const onlyDeny = evaluate(policy({ deny: { and: [F] } }), base);
  assert.equal(onlyDeny.allow, false);
});

test('the reason names the failing criterion of each allow rule', () => {
  const p = policy([
    { allow: { and: [{ domain: { is: 'corp.example' } }] } },
    { allow: { or: [{ mcp_tool: { in: ['list_tables'] } }, F] } },
  ]);
  const d = evaluate(p, base);
  assert.match(d.reason, /rule 0: and: domain "example.com" does not match is "corp.example"/);
  assert.match(d.reason, /rule 1: or: none of \[mcp_tool "read_query" does not match in/);
});
