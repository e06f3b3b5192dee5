import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePolicy, type Path } from './parse.js';

function parse(value: unknown) {
  const errors: string[] = [];
  const policy = parsePolicy(value, (path: Path, message) =>
    errors.push(`${path.join('.')}: ${message}`),
  );
  return { policy, errors };
}

const emailIs = (value: string) => ({
  type: 'criterion',
  name: 'email',
  matchers: [{ op: 'is', value }],
});

test('a list of rules becomes allow/deny rules over typed criteria', () => {
  const { policy, errors } = parse([
    { allow: { and: [{ email: { is: 'a@example.com' } }, { authenticated_user: true }] } },
    {
      deny: {
        or: [{ mcp_tool: { in: ['update', 'drop'] } }, { http_path: { starts_with: '/admin' } }],
      },
    },
  ]);
  assert.deepEqual(errors, []);
  assert.deepEqual(policy, [
    {
      action: 'allow',
      when: {
        type: 'and',
        terms: [emailIs('a@example.com'), { type: 'criterion', name: 'authenticated_user' }],
      },
    },
    {
      action: 'deny',
      when: {
        type: 'or',
        terms: [
          {
            type: 'criterion',
            name: 'mcp_tool',
            matchers: [{ op: 'in', values: ['update', 'drop'] }],
          },
          {
            type: 'criterion',
            name: 'http_path',
            matchers: [{ op: 'starts_with', value: '/admin' }],
          },
        ],
      },
    },
  ]);
});

test("Pomerium's shorthand: one rule object instead of a list", () => {
  const rule = { allow: { or: [{ email: { is: 'a@example.com' } }] } };
  assert.deepEqual(parse(rule), parse([rule]));
  assert.equal(parse(rule).policy.length, 1);
});

test('several operators in one body are joined by or (as in Pomerium); operators nest; claims and groups', () => {
  const { policy, errors } = parse({
    allow: {
      or: [{ groups: { has: 'admins' } }, { 'claim/department': 'sales' }],
      not: [{ and: [{ domain: { ends_with: 'example.org' } }, { http_method: { is: 'DELETE' } }] }],
      nor: [{ 'claim/roles': { contains: 'guest' } }, { mcp_method: { is: 'tools/call' } }],
    },
  });
  assert.deepEqual(errors, []);
  const when = policy[0]?.when;
  assert.equal(when?.type, 'or');
  assert.deepEqual(when?.type === 'or' && when.terms.map((t) => t.type), ['or', 'not', 'nor']);
  assert.deepEqual(when?.type === 'or' && when.terms[0], {
    type: 'or',
    terms: [
      { type: 'criterion', name: 'groups', matchers: [{ op: 'has', value: 'admins' }] },
      {
        type: 'criterion',
        name: 'claim',
        claim: 'department',
        matchers: [{ op: 'has', value: 'sales' }],
      },
    ],
  });
  assert.deepEqual(parse([{ allow: { and: [{ accept: true }] } }]).errors, []);
});

test('each mistake is reported at its path, and every one of them in one pass', () => {
  const { policy, errors } = parse([
    { allow: { and: [{ emial: { is: 'a@example.com' } }] } },
    { allow: { or: { domain: { is: 'example.com' } } } },
    { deny: { or: [{ mcp_tool: { equals: 'update' } }] } },
    { deny: { or: [{ mcp_tool: { in: 'update' } }] } },
    { deny: { or: [{ email: 'a@example.com' }] } },
    { permit: { or: [{ accept: true }] } },
    { allow: { and: [] }, deny: { or: [{ accept: true }] } },
    { allow: { xor: [{ accept: true }] } },
    { allow: { and: [{ accept: false }, { email: { is: 'a' }, domain: { is: 'b' } }] } },
    { allow: { and: [{ groups: { is: 5 } }] } },
    'allow everyone',
  ]);
  assert.deepEqual(policy, []);
  assert.deepEqual(errors, [
    '0.allow.and.0.emial: unknown criterion: expected one of accept, authenticated_user, email, domain, user, groups, http_method, http_path, mcp_tool, mcp_method or claim/<name>',
    '1.allow.or: expected a list of criteria, got a map',
    '2.deny.or.0.mcp_tool.equals: unknown matcher: expected one of is, starts_with, ends_with, contains, in',
    '3.deny.or.0.mcp_tool.in: expected a list of strings, got string',
    '4.deny.or.0.email: expected a matcher map ({is|starts_with|ends_with|contains|in: …}), got string',
    '5.permit: unknown rule action: expected allow or deny',
    '6: a rule has exactly one of allow or deny',
    '7.allow.xor: unknown operator: expected one of and, or, not, nor',
    '8.allow.and.0.accept: expected true, got false',
    '8.allow.and.1: expected a criterion, a map with exactly one key, got a map',
    '9.allow.and.0.groups.is: expected a string, got number',
    '10: expected a rule ({allow: …} or {deny: …}), got string',
  ]);
});

test('an empty operator list is refused rather than read as "always true"', () => {
  assert.deepEqual(parse([{ allow: { or: [] } }]).errors, [
    '0.allow.or: expected a non-empty list of criteria',
  ]);
});

test('no policy is an empty list', () => {
  assert.deepEqual(parse(undefined), { policy: [], errors: [] });
  assert.deepEqual(parse(null), { policy: [], errors: [] });
});
