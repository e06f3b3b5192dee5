/**
 * A route's access decision: its `policy` plus the two shortcut flags, combined as Pomerium does
 * (config/policy_ppl.go `ToPPL`): `allow_public_unauthenticated_access` adds an allow rule
 * `accept`, `allow_any_authenticated_user` adds an allow rule `authenticated_user`, and the
 * route's own rules follow. Deny rules therefore still win over both flags.
 */
import { evaluate, type Decision, type PolicyInput } from './evaluate.js';
import type { Policy } from './parse.js';

/** What of a route decides access (a `RouteConfig` is one; policy does not import config). */
export interface RoutePolicySource {
  readonly allowPublicUnauthenticatedAccess: boolean;
  readonly allowAnyAuthenticatedUser: boolean;
  readonly policy: Policy;
}

/**
 * Decides `input` on `route`. `rule` in the result indexes `route.policy`; an allow granted by a
 * flag has `rule: null` and a reason naming the flag.
 *
 * A denial with `input.user === null` should make the caller ask for sign-in (401) rather than
 * answer 403: as in Pomerium, an anonymous request is denied because nobody is signed in.
 */
// Decided on every request: shared rather than built each time (decisions are never written to).
const PUBLIC: Decision = Object.freeze({
  allow: true,
  reason: 'allow_public_unauthenticated_access',
  rule: null,
  flag: 'allow_public_unauthenticated_access',
});
const ANY_USER: Decision = Object.freeze({
  allow: true,
  reason: 'allow_any_authenticated_user: a user is signed in',
  rule: null,
  flag: 'allow_any_authenticated_user',
});

export function decideRoute(route: RoutePolicySource, input: PolicyInput): Decision {
  const decision = evaluate(route.policy, input);
  // A deny rule decided: it wins over the flags too.
  if (decision.allow || decision.rule !== null) return decision;
  if (route.allowPublicUnauthenticatedAccess) return PUBLIC;
  if (route.allowAnyAuthenticatedUser && input.user !== null) return ANY_USER;
  if (route.allowAnyAuthenticatedUser) {
    return {
      allow: false,
      rule: null,
      // Read only when logged: the policy's own reason is built then too.
      get reason() {
        return 'allow_any_authenticated_user: no user signed in; ' + decision.reason;
      },
    };
  }
  return decision;
}
