// whoami through the servers host, driven by the MCP SDK's own client: the identity comes only
// from a verified X-Pomerium-Jwt-Assertion, and every refusal is a tool error, not a crash.
import { after, before, describe, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT } from 'jose';
import { createWhoamiServer } from '../src/servers/whoami/server.js';
import type { ServersHost } from '../src/servers/host.js';
import {
  AUDIENCE,
  ISSUER,
  newSigningKey,
  pomeriumClaims,
  rawJwt,
  signAssertion,
  startJwksServer,
  withPayload,
  type JwksServer,
  type SigningKey,
} from './support/assertion-issuer.js';
import { startTestHost } from './support/host.js';
import { connectClient, firstText } from './support/mcp-client.js';

interface WhoamiAnswer {
  readonly isError: boolean;
  readonly structured: unknown;
  readonly json: { error?: { code: string; message: string } } & Record<string, unknown>;
}

/** One whoami call from a fresh client; `token` goes in X-Pomerium-Jwt-Assertion. */
async function whoami(host: ServersHost, token?: string): Promise<WhoamiAnswer> {
  const headers: Record<string, string> = token ? { 'X-Pomerium-Jwt-Assertion': token } : {};
  const client = await connectClient(`${host.url}/whoami`, headers);
  try {
    const result = await client.callTool({ name: 'whoami', arguments: {} });
    return {
      isError: result.isError === true,
      structured: result.structuredContent,
      json: JSON.parse(firstText(result)) as WhoamiAnswer['json'],
    };
  } finally {
    await client.close();
  }
}

async function assertRefused(host: ServersHost, token: string | undefined, code: string) {
  const answer = await whoami(host, token);
  assert.equal(answer.isError, true, `expected a refusal, got ${JSON.stringify(answer.json)}`);
  assert.equal(answer.json.error?.code, code);
  assert.equal(answer.structured, undefined);
  assert.doesNotMatch(answer.json.error?.message ?? '', /ada@example\.com|user-8f2c/);
}

const ALICE = {
  name: 'Ada Lovelace',
  email: 'ada@example.com',
  sub: 'user-8f2c',
  groups: ['engineering', 'admins'],
};

function assertionEnv(jwks: JwksServer, extra: Record<string, string> = {}) {
  return { ASSERTION_JWKS_URL: jwks.url.href, ASSERTION_ISSUERS: ISSUER, ...extra };
}

describe('whoami behind a trusted key server', () => {
  let key: SigningKey;
  let jwks: JwksServer;
  let host: ServersHost;

  before(async () => {
    key = await newSigningKey();
    jwks = await startJwksServer([key]);
    host = await startTestHost([createWhoamiServer], assertionEnv(jwks));
  });
  after(async () => {
    await host.close();
    await jwks.close();
  });

  test('returns name, email, sub and groups from a valid assertion', async () => {
    const answer = await whoami(host, await signAssertion(key));
    assert.equal(answer.isError, false);
    assert.deepEqual(answer.structured, ALICE);
    assert.deepEqual(answer.json, ALICE);
  });

  test('lists the tool with its output schema', async () => {
    const client = await connectClient(`${host.url}/whoami`);
    try {
      const { tools } = await client.listTools();
      assert.deepEqual(
        tools.map((t) => t.name),
        ['whoami'],
      );
      assert.deepEqual(tools[0]?.outputSchema?.required, ['name', 'email', 'sub', 'groups']);
    } finally {
      await client.close();
    }
  });

  test('refuses a call without the header', async () => {
    await assertRefused(host, undefined, 'ERR_ASSERTION_MISSING');
  });

  test('accepts a small clock skew and refuses an expiry beyond it', async () => {
    const answer = await whoami(host, await signAssertion(key, { issuedAtOffset: -310 }));
    assert.deepEqual(answer.structured, ALICE);
    const late = await signAssertion(key, { issuedAtOffset: -400 });
    await assertRefused(host, late, 'ERR_ASSERTION_EXPIRED');
  });

  test('refuses a wrong issuer', async () => {
    const token = await signAssertion(key, { claims: { iss: 'authenticate.evil.example' } });
    await assertRefused(host, token, 'ERR_ASSERTION_INVALID');
  });

  test('never fetches keys from the issuer a token names (no trust on first use)', async () => {
    const attackerKey = await newSigningKey();
    const attacker = await startJwksServer([attackerKey]);
    try {
      const ownIss = await signAssertion(attackerKey, { claims: { iss: attacker.url.host } });
      const jku = await signAssertion(attackerKey, { header: { jku: attacker.url.href } });
      await assertRefused(host, ownIss, 'ERR_ASSERTION_INVALID');
      await assertRefused(host, jku, 'ERR_ASSERTION_INVALID');
      assert.equal(attacker.hits, 0);
    } finally {
      await attacker.close();
    }
  });

  test('refuses a bad signature', async () => {
    const token = await signAssertion(key);
    const forged = withPayload(token, { ...pomeriumClaims(), groups: ['root'] });
    await assertRefused(host, forged, 'ERR_ASSERTION_INVALID');
    const other = await newSigningKey();
    await assertRefused(
      host,
      await signAssertion({ ...other, kid: key.kid }),
      'ERR_ASSERTION_INVALID',
    );
  });

  test('refuses alg none and HS256 keyed with the public key', async () => {
    const none = rawJwt({ alg: 'none', kid: key.kid, typ: 'JWT' }, pomeriumClaims());
    const hmac = await new SignJWT(pomeriumClaims())
      .setProtectedHeader({ alg: 'HS256', kid: key.kid, typ: 'JWT' })
      .sign(new TextEncoder().encode(JSON.stringify(key.publicJwk)));
    await assertRefused(host, none, 'ERR_ASSERTION_INVALID');
    await assertRefused(host, hmac, 'ERR_ASSERTION_INVALID');
  });

  test('keeps serving after refusals', async () => {
    await assertRefused(host, 'x'.repeat(5000), 'ERR_ASSERTION_INVALID');
    const answer = await whoami(host, await signAssertion(key));
    assert.deepEqual(answer.structured, ALICE);
  });
});

describe('whoami with ASSERTION_AUDIENCE', () => {
  test('refuses an assertion made for another route', async (t) => {
    const key = await newSigningKey();
    const jwks = await startJwksServer([key]);
    const host = await startTestHost(
      [createWhoamiServer],
      assertionEnv(jwks, { ASSERTION_AUDIENCE: AUDIENCE }),
    );
    t.after(async () => {
      await host.close();
      await jwks.close();
    });
    const wrong = await signAssertion(key, { claims: { aud: 'db.example.com' } });
    await assertRefused(host, wrong, 'ERR_ASSERTION_INVALID');
    assert.deepEqual((await whoami(host, await signAssertion(key))).structured, ALICE);
  });
});

describe('whoami key rotation', () => {
  test('an unknown kid refetches the keys, at most once per cooldown', async (t) => {
    const oldKey = await newSigningKey();
    const jwks = await startJwksServer([oldKey]);
    const host = await startTestHost([createWhoamiServer], assertionEnv(jwks));
    t.after(async () => {
      mock.timers.reset();
      await host.close();
      await jwks.close();
    });
    mock.timers.enable({ apis: ['Date'], now: Date.now() });

    assert.deepEqual((await whoami(host, await signAssertion(oldKey))).structured, ALICE);
    assert.equal(jwks.hits, 1);

    const newKey = await newSigningKey();
    jwks.publish([oldKey, newKey]);
    mock.timers.tick(31_000); // past the verifier's 30 s refetch cooldown
    assert.deepEqual((await whoami(host, await signAssertion(newKey))).structured, ALICE);
    assert.equal(jwks.hits, 2, 'the new kid caused exactly one refetch');

    for (let i = 0; i < 5; i++) {
      const stranger = await newSigningKey();
      await assertRefused(host, await signAssertion(stranger), 'ERR_ASSERTION_INVALID');
    }
    assert.equal(jwks.hits, 2, 'unknown kids inside the cooldown do not refetch');
    assert.deepEqual((await whoami(host, await signAssertion(oldKey))).structured, ALICE);
  });
});

describe('whoami when keys are unavailable or not configured', () => {
  test('a key server that is down refuses the call and the host keeps serving', async (t) => {
    const key = await newSigningKey();
    const jwks = await startJwksServer([key]);
    await jwks.close();
    const host = await startTestHost([createWhoamiServer], assertionEnv(jwks));
    t.after(() => host.close());
    await assertRefused(host, await signAssertion(key), 'ERR_ASSERTION_KEYS_UNAVAILABLE');
    await assertRefused(host, await signAssertion(key), 'ERR_ASSERTION_KEYS_UNAVAILABLE');
    const res = await fetch(`${host.url}/healthz`);
    assert.equal(res.status, 200);
  });

  test('without settings every call is refused as not configured', async (t) => {
    const key = await newSigningKey();
    const host = await startTestHost([createWhoamiServer]);
    t.after(() => host.close());
    await assertRefused(host, await signAssertion(key), 'not_configured');
  });
});
