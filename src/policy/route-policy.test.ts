import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePolicy, type Policy } from './parse.js';
import { decidedBy, type PolicyInput } from './evaluate.js';
import { decideRoute, type RoutePolicySource } from './route-policy.js';

function policy(value: unknown): Policy {
  const errors: string[] = [];
  const parsed = parsePolicy(value, (path, message) =>
    errors.push(`${path.join('.')}: ${message}`),
  );
  assert.deepEqual(errors, []);
  return parsed;
}

const route = (over: Partial<RoutePolicySource>): RoutePolicySource => ({
  allowPublicUnauthenticatedAccess: false,
  allowAnyAuthenticatedUser: false,
  policy: [],
  ...over,
});

const signedIn: PolicyInput = {
  user: { sub: 'u1', email: 'bob@example.com', name: null, groups: [], claims: {} },
  http: { method: 'POST', path: '/' },
  mcp: { method: 'tools/call', tool: 'update' },
};
const anonymous: PolicyInput = { ...signedIn, user: null };

const denyUpdate = policy({ deny: { or: [{ mcp_tool: { is: 'update' } }] } });

test('no flag and no policy: everything is denied', () => {
  const d = decideRoute(route({}), signedIn);
  assert.deepEqual([d.allow, d.rule], [false, null]);
  assert.match(d.reason, /^default deny/);
  assert.equal(decidedBy(d), 'default-deny');
});

test('allow_public_unauthenticated_access admits anyone, signed in or not', () => {
  for (const input of [signedIn, anonymous]) {
    const d = decideRoute(route({ allowPublicUnauthenticatedAccess: true }), input);
    assert.deepEqual(d, {
      allow: true,
      reason: 'allow_public_unauthenticated_access',
      rule: null,
      flag: 'allow_public_unauthenticated_access',
    });
    assert.equal(decidedBy(d), 'allow_public_unauthenticated_access');
  }
});

test('allow_any_authenticated_user admits a signed-in user only', () => {
  const r = route({ allowAnyAuthenticatedUser: true });
  assert.equal(decideRoute(r, signedIn).allow, true);
  assert.match(decideRoute(r, signedIn).reason, /^allow_any_authenticated_user/);
  assert.equal(decidedBy(decideRoute(r, signedIn)), 'allow_any_authenticated_user');
  const d = decideRoute(r, anonymous);
  assert.deepEqual([d.allow, d.rule], [false, null]);
  assert.equal(decidedBy(d), 'default-deny');
  assert.match(d.reason, /no user signed in/);
});

test('deny rules of the policy win over both flags (as in Pomerium ToPPL)', () => {
  for (const flags of [
    { allowPublicUnauthenticatedAccess: true },
    { allowAnyAuthenticatedUser: true },
  ]) {
    const d = decideRoute(route({ ...flags, policy: denyUpdate }), signedIn);
    assert.deepEqual([d.allow, d.rule], [false, 0]);
    assert.equal(decidedBy(d), 'policy[0]');
    assert.match(d.reason, /^deny rule 0 applies: or: mcp_tool "update" matches is "update"/);
    const other = { ...signedIn, mcp: { method: 'tools/call', tool: 'read' } };
    assert.equal(decideRoute(route({ ...flags, policy: denyUpdate }), other).allow, true);
  }
});

test('policy allow rules and flags add up: any allow admits', () => {
  const p = policy({ allow: { and: [{ domain: { is: 'corp.example' } }] } });
  assert.equal(decideRoute(route({ policy: p }), signedIn).allow, false);
  assert.equal(
    decideRoute(route({ policy: p, allowAnyAuthenticatedUser: true }), signedIn).allow,
    true,
  );
  const q = policy({ allow: { and: [{ domain: { is: 'example.com' } }] } });
  const d = decideRoute(route({ policy: q }), signedIn);
  assert.deepEqual([d.allow, d.rule], [true, 0]);
});
