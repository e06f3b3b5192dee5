import { after, before, describe, mock, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT } from 'jose';
import { AssertionError, createAssertionVerifier } from './verify.js';
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
} from '../../test/support/assertion-issuer.js';

type Verifier = ReturnType<typeof createAssertionVerifier>;

async function refusal(verify: Verifier, token: string | string[] | undefined) {
  const err = await verify(token).then(
    () => assert.fail('the assertion was accepted'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof AssertionError, `expected an AssertionError, got ${String(err)}`);
  return err;
}

describe('createAssertionVerifier', () => {
  let key: SigningKey;
  let jwks: JwksServer;
  let verify: Verifier;

  before(async () => {
    key = await newSigningKey();
    jwks = await startJwksServer([key]);
    verify = createAssertionVerifier({ jwksUrl: jwks.url, issuers: [ISSUER] });
  });
  after(() => jwks.close());

  test('accepts a Pomerium assertion and returns the identity', async () => {
    const identity = await verify(await signAssertion(key));
    assert.equal(identity.sub, 'user-8f2c');
    assert.equal(identity.email, 'ada@example.com');
    assert.equal(identity.name, 'Ada Lovelace');
    assert.deepEqual(identity.groups, ['engineering', 'admins']);
    assert.equal(identity.claims.iss, ISSUER);
  });

  test('keeps only string groups and tolerates missing optional claims', async () => {
    const token = await signAssertion(key, {
      claims: { groups: ['a', 7, null, 'b'], email: undefined, name: 42 },
    });
    const identity = await verify(token);
    assert.deepEqual(identity.groups, ['a', 'b']);
    assert.equal(identity.email, undefined);
    assert.equal(identity.name, undefined);
  });

  test('refuses a missing, empty or repeated header', async () => {
    for (const token of [undefined, '', ['a', 'b']]) {
      assert.equal((await refusal(verify, token)).code, 'ERR_ASSERTION_MISSING');
    }
  });

  test('accepts an expiry within the clock skew and refuses one beyond it', async () => {
    // exp = iat + 300: issued 310 s ago expired 10 s ago (inside the default 30 s skew).
    await verify(await signAssertion(key, { issuedAtOffset: -310 }));
    const err = await refusal(verify, await signAssertion(key, { issuedAtOffset: -360 }));
    assert.equal(err.code, 'ERR_ASSERTION_EXPIRED');

    const strict = createAssertionVerifier({
      jwksUrl: jwks.url,
      issuers: [ISSUER],
      clockToleranceSeconds: 0,
    });
    const tight = await refusal(strict, await signAssertion(key, { issuedAtOffset: -310 }));
    assert.equal(tight.code, 'ERR_ASSERTION_EXPIRED');
  });

  test('refuses a token that is not valid yet (nbf beyond the skew)', async () => {
    const nbf = Math.floor(Date.now() / 1000) + 120;
    const err = await refusal(verify, await signAssertion(key, { claims: { nbf } }));
    assert.equal(err.code, 'ERR_ASSERTION_INVALID');
  });

  test('refuses a wrong or missing issuer; accepts any of several configured', async () => {
    for (const iss of ['evil.example.com', `https://${ISSUER}`, undefined]) {
      const err = await refusal(verify, await signAssertion(key, { claims: { iss } }));
      assert.equal(err.code, 'ERR_ASSERTION_INVALID');
      assert.match(err.message, /"iss"/);
    }
    const multi = createAssertionVerifier({
      jwksUrl: jwks.url,
      issuers: ['other.example.com', ISSUER],
    });
    await multi(await signAssertion(key));
  });

  test('checks aud only when an audience is configured', async () => {
    const bound = createAssertionVerifier({
      jwksUrl: jwks.url,
      issuers: [ISSUER],
      audience: AUDIENCE,
    });
    await bound(await signAssertion(key));
    await bound(await signAssertion(key, { claims: { aud: ['x.example.com', AUDIENCE] } }));
    for (const aud of ['db.example.com', undefined]) {
      const err = await refusal(bound, await signAssertion(key, { claims: { aud } }));
      assert.equal(err.code, 'ERR_ASSERTION_INVALID');
      assert.match(err.message, /"aud"/);
    }
    await verify(await signAssertion(key, { claims: { aud: 'db.example.com' } }));
  });

  test('requires sub and exp', async () => {
    for (const claims of [{ sub: undefined }, { exp: undefined }]) {
      const err = await refusal(verify, await signAssertion(key, { claims }));
      assert.equal(err.code, 'ERR_ASSERTION_INVALID');
    }
  });

  test('refuses a tampered payload and a token signed by another key under the same kid', async () => {
    const token = await signAssertion(key);
    const forged = withPayload(token, { ...pomeriumClaims(), email: 'mallory@example.com' });
    assert.equal((await refusal(verify, forged)).code, 'ERR_ASSERTION_INVALID');

    const other = await newSigningKey();
    const impostor = await signAssertion({ ...other, kid: key.kid });
    assert.equal((await refusal(verify, impostor)).code, 'ERR_ASSERTION_INVALID');
    assert.equal((await refusal(verify, 'not.a.jwt')).code, 'ERR_ASSERTION_INVALID');
    assert.equal((await refusal(verify, 'garbage')).code, 'ERR_ASSERTION_INVALID');
  });

  test('refuses alg none and HS256 (keyed with the public key) without fetching keys', async () => {
    await verify(await signAssertion(key)); // keys cached
    const before = jwks.hits;
    const none = rawJwt({ alg: 'none', kid: key.kid, typ: 'JWT' }, pomeriumClaims());
    const hmac = await new SignJWT(pomeriumClaims())
      .setProtectedHeader({ alg: 'HS256', kid: key.kid, typ: 'JWT' })
      .sign(new TextEncoder().encode(JSON.stringify(key.publicJwk)));
    for (const token of [none, hmac]) {
      assert.equal((await refusal(verify, token)).code, 'ERR_ASSERTION_INVALID');
    }
    assert.equal(jwks.hits, before);
  });

  test('never takes keys from the token: its iss, jku or embedded jwk', async () => {
    const attackerKey = await newSigningKey();
    const attacker = await startJwksServer([attackerKey]);
    try {
      const tokens = [
        // iss naming the attacker's own key server
        await signAssertion(attackerKey, { claims: { iss: attacker.url.host } }),
        // the trusted iss, with headers pointing at the attacker's keys
        await signAssertion(attackerKey, { header: { jku: attacker.url.href } }),
        await signAssertion(attackerKey, { header: { jwk: attackerKey.publicJwk } }),
      ];
      for (const token of tokens) {
        assert.equal((await refusal(verify, token)).code, 'ERR_ASSERTION_INVALID');
      }
      assert.equal(attacker.hits, 0);
    } finally {
      await attacker.close();
    }
  });
});

/**
 * A key server publishing `key`, `Date` mocked, and a verifier that refetches at most once per
 * 60 s; the server and the mock are undone when `t` ends.
 */
async function withCooldown(t: TestContext, key: SigningKey) {
  const jwks = await startJwksServer([key]);
  t.after(() => jwks.close());
  mock.timers.enable({ apis: ['Date'], now: Date.now() });
  t.after(() => mock.timers.reset());
  const verify = createAssertionVerifier({
    jwksUrl: jwks.url,
    issuers: [ISSUER],
    refetchCooldownMs: 60_000,
  });
  return { jwks, verify };
}

describe('key rotation and refetch rate limit', () => {
  test('an unknown kid refetches the keys once per cooldown', async (t) => {
    const oldKey = await newSigningKey();
    const { jwks, verify } = await withCooldown(t, oldKey);

    await verify(await signAssertion(oldKey));
    assert.equal(jwks.hits, 1);

    // Rotation: the signer publishes a new key and starts using it.
    const newKey = await newSigningKey();
    jwks.publish([oldKey, newKey]);
    mock.timers.tick(61_000);
    await verify(await signAssertion(newKey));
    assert.equal(jwks.hits, 2, 'the unknown kid made the verifier refetch once');
    await verify(await signAssertion(newKey));
    await verify(await signAssertion(oldKey));
    assert.equal(jwks.hits, 2, 'known kids are served from the cache');

    // A flood of unknown kids inside the cooldown costs no further fetches.
    for (let i = 0; i < 20; i++) {
      const stranger = await newSigningKey();
      await refusal(verify, await signAssertion(stranger));
    }
    assert.equal(jwks.hits, 2);

    mock.timers.tick(61_000);
    await refusal(verify, await signAssertion(await newSigningKey()));
    await refusal(verify, await signAssertion(await newSigningKey()));
    assert.equal(jwks.hits, 3, 'after the cooldown, one more refetch, then quiet again');
  });

  test('a key published after the first fetch is refused until the cooldown ends', async (t) => {
    const first = await newSigningKey();
    const { jwks, verify } = await withCooldown(t, first);
    await verify(await signAssertion(first));
    const second = await newSigningKey();
    jwks.publish([second]);
    mock.timers.tick(1_000);
    await refusal(verify, await signAssertion(second));
    assert.equal(jwks.hits, 1);
    mock.timers.tick(60_000);
    await verify(await signAssertion(second));
    assert.equal(jwks.hits, 2);
  });
});

describe('unavailable keys', () => {
  test('a key server that refuses connections is reported as unavailable keys', async () => {
    const key = await newSigningKey();
    const jwks = await startJwksServer([key]);
    const url = jwks.url;
    await jwks.close();
    const verify = createAssertionVerifier({ jwksUrl: url, issuers: [ISSUER] });
    const err = await refusal(verify, await signAssertion(key));
    assert.equal(err.code, 'ERR_ASSERTION_KEYS_UNAVAILABLE');
  });

  test('an error status or a non-JSON key set is unavailable keys, not a bad token', async (t) => {
    const key = await newSigningKey();
    const jwks = await startJwksServer([key]);
    t.after(() => jwks.close());
    const verify = createAssertionVerifier({ jwksUrl: jwks.url, issuers: [ISSUER] });
    const failures: [number, string][] = [
      [503, 'unavailable'],
      [500, '{}'],
      [404, 'not found'],
      [200, '<html>login</html>'],
      [200, '{"keys":"none"}'],
    ];
    for (const [status, body] of failures) {
      jwks.failWith(status, body);
      const err = await refusal(verify, await signAssertion(key));
      assert.equal(err.code, 'ERR_ASSERTION_KEYS_UNAVAILABLE', `JWKS answer ${status} ${body}`);
    }
    // Once the key server is back, the same verifier works (failures are not cached).
    jwks.failWith(undefined);
    await verify(await signAssertion(key));
  });
});
