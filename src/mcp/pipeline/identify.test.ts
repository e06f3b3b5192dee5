import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import type { RouteConfig } from '../../config/types.js';
import { CLIENT_MODE_CLIENT_ID } from '../../oauth/client-mode.js';
import type { BearerOutcome } from '../../oauth/server.js';
import type { SessionRecord } from '../../storage/types.js';
import { corsHeaders, unauthorizedAnswer } from './cors.js';
import { incoming, routesFrom, session } from './fixtures.test-suite.js';
import { identifyCaller, judgeCaller } from './identify.js';

const routes = routesFrom(
  [
    '  - from: https://db.example.com',
    '    prefix: /sqlite',
    '    to: http://mcp-servers:8080/sqlite',
    '    allow_any_authenticated_user: true',
    '    mcp: {server: {}}',
    '  - from: https://db.example.com',
    '    prefix: /open',
    '    to: http://mcp-servers:8080/whoami',
    '    allow_public_unauthenticated_access: true',
    '    mcp: {server: {}}',
    '',
  ].join('\n'),
);
const route = routes[0]!;
const publicRoute = routes[1]!;

const SAME = 'https://db.example.com';
const FOREIGN = 'https://evil.example';
const cookieUser = session({ sub: 'u-cookie' });
const tokenUser = session({ sub: 'u-token' });
const valid: BearerOutcome = {
  kind: 'valid',
  session: tokenUser,
  clientId: 'client-1',
  clientName: 'Claude',
  grantId: 'grant-1',
};
const client = { id: 'client-1', name: 'Claude' };
const FORBIDDEN_ORIGIN = {
  kind: 'json',
  status: 403,
  body: { error: 'forbidden', error_description: 'Origin is not allowed' },
};

test('a valid bearer token is the caller; a browser client holding it gets CORS headers', () => {
  const facts = { route, bearer: valid, session: cookieUser };
  assert.deepEqual(judgeCaller({ ...facts, origin: FOREIGN }), {
    ok: true,
    session: tokenUser,
    grantId: 'grant-1',
    client,
    responseHeaders: corsHeaders(FOREIGN),
  });
  assert.deepEqual(judgeCaller({ ...facts, origin: undefined }), {
    ok: true,
    session: tokenUser,
    grantId: 'grant-1',
    client,
    responseHeaders: {},
  });
});

test('a client-mode token is the caller too, without a grant to revoke', () => {
  const clientMode: BearerOutcome = { ...valid, clientId: CLIENT_MODE_CLIENT_ID };
  assert.deepEqual(
    judgeCaller({ route, origin: undefined, bearer: clientMode, session: cookieUser }),
    {
      ok: true,
      session: tokenUser,
      client: { id: CLIENT_MODE_CLIENT_ID, name: 'Claude' },
      responseHeaders: {},
    },
  );
});

test('a refused token is 401 invalid_token, even with a session cookie beside it', () => {
  for (const origin of [undefined, SAME, FOREIGN]) {
    assert.deepEqual(
      judgeCaller({ route, origin, bearer: { kind: 'invalid' }, session: cookieUser }),
      {
        ok: false,
        answer: unauthorizedAnswer(route, origin, 'invalid_token'),
        note: 'bearer token refused',
      },
    );
  }
});

test('without a token the session cookie is the caller from the route’s own origin or none', () => {
  for (const origin of [undefined, SAME]) {
    for (const s of [cookieUser, undefined]) {
      assert.deepEqual(judgeCaller({ route, origin, bearer: { kind: 'none' }, session: s }), {
        ok: true,
        session: s,
        responseHeaders: {},
      });
    }
  }
});

test('a foreign Origin may not use the session cookie (DNS rebinding): 403', () => {
  const outcome = judgeCaller({
    route,
    origin: FOREIGN,
    bearer: { kind: 'none' },
    session: cookieUser,
  });
  assert.deepEqual(outcome, { ok: false, answer: FORBIDDEN_ORIGIN });
  // The origin is compared whole: scheme and port count.
  for (const origin of ['http://db.example.com', 'https://db.example.com:8443']) {
    const o = judgeCaller({ route, origin, bearer: { kind: 'none' }, session: cookieUser });
    assert.equal(o.ok, false, origin);
  }
});

test('a foreign Origin with nothing ambient is told where to get a token (401 with CORS)', () => {
  assert.deepEqual(
    judgeCaller({ route, origin: FOREIGN, bearer: { kind: 'none' }, session: undefined }),
    { ok: false, answer: unauthorizedAnswer(route, FOREIGN) },
  );
  // A public route needs no token, so there is nothing to discover: the foreign page is refused.
  assert.deepEqual(
    judgeCaller({
      route: publicRoute,
      origin: FOREIGN,
      bearer: { kind: 'none' },
      session: undefined,
    }),
    { ok: false, answer: FORBIDDEN_ORIGIN },
  );
});

/** The two ports identification reads, counting how often each is asked. */
function ports(bearer: BearerOutcome | null, cookie: SessionRecord | undefined) {
  const asked = { bearer: 0, authenticate: 0 };
  const seen: { route?: RouteConfig; req?: IncomingMessage } = {};
  return {
    asked,
    seen,
    ports: {
      ...(bearer && {
        bearer: (req: IncomingMessage, r: RouteConfig) => {
          asked.bearer++;
          Object.assign(seen, { req, route: r });
          return Promise.resolve(bearer);
        },
      }),
      authenticate: () => {
        asked.authenticate++;
        return Promise.resolve(cookie);
      },
    },
  };
}

test('identifyCaller asks for the session only when no token was presented', async () => {
  const req = incoming({ headers: { origin: SAME, authorization: 'Bearer t' } });
  const withToken = ports(valid, cookieUser);
  const outcome = await identifyCaller(withToken.ports, req, route);
  assert.deepEqual(outcome, {
    ok: true,
    session: tokenUser,
    grantId: 'grant-1',
    client,
    responseHeaders: corsHeaders(SAME),
  });
  assert.deepEqual(withToken.asked, { bearer: 1, authenticate: 0 });
  assert.equal(withToken.seen.req, req);
  assert.equal(withToken.seen.route, route);

  const refused = ports({ kind: 'invalid' }, cookieUser);
  assert.equal((await identifyCaller(refused.ports, req, route)).ok, false);
  assert.deepEqual(refused.asked, { bearer: 1, authenticate: 0 });

  const cookie = ports({ kind: 'none' }, cookieUser);
  const bySession = await identifyCaller(
    cookie.ports,
    incoming({ headers: { origin: SAME } }),
    route,
  );
  assert.deepEqual(bySession, { ok: true, session: cookieUser, responseHeaders: {} });
  // Without an Authorization header there is nothing for the bearer check to look at.
  assert.deepEqual(cookie.asked, { bearer: 0, authenticate: 1 });
});

test('identifyCaller without an OAuth server reads the cookie, and the request’s Origin rules', async () => {
  const noServer = ports(null, cookieUser);
  const req = incoming({ headers: { origin: FOREIGN, authorization: 'Bearer t' } });
  assert.deepEqual(await identifyCaller(noServer.ports, req, route), {
    ok: false,
    answer: FORBIDDEN_ORIGIN,
  });
  assert.deepEqual(noServer.asked, { bearer: 0, authenticate: 1 });
});
