import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { calculateJwkThumbprint, decodeJwt, decodeProtectedHeader, type JWK } from 'jose';
import { ConfigError } from '../core/errors.js';
import { deriveKey } from '../core/crypto.js';
import { createMemoryStorage } from '../storage/memory.js';
import { openSqliteStorage } from '../storage/sqlite.js';
import type { SigningKeyStore } from '../storage/types.js';
import { fromRecord } from './keys.js';
import { createJwksHandler, JWKS_PATH } from './jwks-handler.js';
import { AssertionSigner, type AssertionInput } from './sign.js';
import { createAssertionVerifier } from './verify.js';

const SECRET = randomBytes(32).toString('base64');
const HOST = 'db.example.com';
const INPUT: AssertionInput = {
  issuer: HOST,
  audience: HOST,
  sub: 'user-8f2c',
  email: 'ada@example.com',
  name: 'Ada Lovelace',
  groups: ['engineering', 'admins'],
  sid: 'session-1',
};
const POMERIUM_CLAIMS = ['aud', 'email', 'exp', 'groups', 'iat', 'iss', 'jti', 'name', 'sid'];
const CLAIMS = [...POMERIUM_CLAIMS, 'sub', 'user'].sort();

/** Serves `signer`'s key set with the real handler on a loopback port. */
async function serveJwks(signer: { jwks(): Promise<{ keys: JWK[] }> }) {
  const handler = createJwksHandler(signer);
  const server: Server = createServer((req, res) => void handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}${JWKS_PATH}`);
  return { url, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

function pem(type: 'sec1' | 'pkcs8', curve = 'P-256'): string {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: curve });
  return Buffer.from(privateKey.export({ format: 'pem', type }) as string).toString('base64');
}

function countingStore(inner: SigningKeyStore) {
  const calls = { n: 0 };
  const store: SigningKeyStore = {
    list: () => (calls.n++, inner.list()),
    add: (k) => (calls.n++, inner.add(k)),
    retire: (kid, at) => (calls.n++, inner.retire(kid, at)),
    prune: (b) => (calls.n++, inner.prune(b)),
  };
  return { store, calls };
}

describe('AssertionSigner', () => {
  test('signs tokens the project verifier accepts, with exactly Pomerium’s claims', async () => {
    const signer = await AssertionSigner.create({
      store: createMemoryStorage().signingKeys,
      sharedSecret: SECRET,
    });
    const jwks = await serveJwks(signer);
    after(() => jwks.close());
    const verify = createAssertionVerifier({ jwksUrl: jwks.url, issuers: [HOST], audience: HOST });

    const token = await signer.sign(INPUT);
    const identity = await verify(token);
    assert.equal(identity.sub, INPUT.sub);
    assert.equal(identity.email, INPUT.email);
    assert.equal(identity.name, INPUT.name);
    assert.deepEqual(identity.groups, INPUT.groups);

    const claims = decodeJwt(token);
    assert.deepEqual(Object.keys(claims).sort(), CLAIMS);
    assert.equal(claims.exp! - claims.iat!, 300);
    assert.equal(claims.user, INPUT.sub);
    assert.equal(claims.iss, HOST);
    assert.equal(claims.aud, HOST);
    assert.equal(claims.sid, 'session-1');
    assert.notEqual(decodeJwt(await signer.sign(INPUT)).jti, claims.jti);

    const header = decodeProtectedHeader(token);
    assert.deepEqual(header, { alg: 'ES256', kid: signer.currentKid, typ: 'JWT' });
    const { keys } = await signer.jwks();
    assert.equal(keys.length, 1);
    const { kid, alg, use, ...publicJwk } = keys[0]!;
    assert.deepEqual([kid, alg, use], [header.kid, 'ES256', 'sig']);
    assert.deepEqual(Object.keys(publicJwk).sort(), ['crv', 'kty', 'x', 'y']);
    assert.equal(await calculateJwkThumbprint(publicJwk), header.kid); // RFC 7638
  });

  test('adds caller claims without letting them override its own; null becomes ""', async () => {
    const signer = await AssertionSigner.create({
      store: createMemoryStorage().signingKeys,
      sharedSecret: SECRET,
    });
    const token = await signer.sign({
      ...INPUT,
      email: null,
      name: null,
      extraClaims: { department: 'R&D', iss: 'evil.example.com', exp: 9e12 },
    });
    const claims = decodeJwt(token);
    assert.equal(claims.department, 'R&D');
    assert.equal(claims.iss, HOST);
    assert.equal(claims.exp! - claims.iat!, 300);
    assert.equal(claims.email, '');
    assert.equal(claims.name, '');
  });

  test('reuses the stored key across signers, racing starts and restarts (sqlite)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-sign-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'p.db');
    const a = openSqliteStorage(file);
    const b = openSqliteStorage(file);
    const [s1, s2] = await Promise.all([
      AssertionSigner.create({ store: a.signingKeys, sharedSecret: SECRET, jwksCacheMs: 0 }),
      AssertionSigner.create({ store: b.signingKeys, sharedSecret: SECRET, jwksCacheMs: 0 }),
    ]);
    // Each may have stored its own key; every key in use is published, the next reload agrees.
    const kids = [s1.currentKid, s2.currentKid];
    for (const s of [s1, s2]) {
      const published = (await s.jwks()).keys.map((k) => k.kid);
      assert.ok(kids.every((kid) => published.includes(kid)));
      await s.refresh();
    }
    assert.equal(s1.currentKid, s2.currentKid);
    assert.equal((await a.signingKeys.list()).filter((k) => k.retiredAt === null).length, 1);
    await b.close();

    const s3 = await AssertionSigner.create({ store: a.signingKeys, sharedSecret: SECRET });
    assert.equal(s3.currentKid, s1.currentKid);
    assert.deepEqual(await s3.jwks(), await s1.jwks());

    // The private key never reaches the file in the clear.
    const records = await a.signingKeys.list();
    const d = (
      await fromRecord(records.at(-1)!, deriveKey(SECRET, 'signing-key'))
    ).privateKey.export({
      format: 'jwk',
    }).d!;
    for (const f of [file, `${file}-wal`]) {
      const bytes = readFileSync(f);
      assert.equal(bytes.includes(d), false, `${f} holds the JWK d`);
      assert.equal(bytes.includes(Buffer.from(d, 'base64url')), false, `${f} holds raw d`);
    }
    assert.match(records[0]!.privateJwkEnc, /^v1\./);
    await a.close();

    const reopened = openSqliteStorage(file);
    const s4 = await AssertionSigner.create({ store: reopened.signingKeys, sharedSecret: SECRET });
    assert.equal(s4.currentKid, s1.currentKid);
    // Another shared_secret cannot open it, and says so.
    await assert.rejects(
      AssertionSigner.create({
        store: reopened.signingKeys,
        sharedSecret: randomBytes(32).toString('base64'),
      }),
      (err: unknown) => err instanceof ConfigError && /^shared_secret: /.test(err.message),
    );
    await reopened.close();
  });

  test('uses a configured signing_key (SEC 1 or PKCS #8 PEM) and never stores it', async () => {
    for (const type of ['sec1', 'pkcs8'] as const) {
      const storage = createMemoryStorage();
      const signingKeyPem = pem(type);
      const signer = await AssertionSigner.create({
        store: storage.signingKeys,
        sharedSecret: SECRET,
        signingKeyPem,
      });
      assert.deepEqual(await storage.signingKeys.list(), []);
      const { keys } = await signer.jwks();
      assert.equal(keys.length, 1);
      const { kid, alg, use, ...pub } = keys[0]!;
      assert.deepEqual([alg, use], ['ES256', 'sig']);
      assert.equal(kid, await calculateJwkThumbprint(pub));
      assert.equal(signer.currentKid, kid);

      const jwks = await serveJwks(signer);
      const verify = createAssertionVerifier({ jwksUrl: jwks.url, issuers: [HOST] });
      const token = await signer.sign(INPUT);
      assert.equal((await verify(token)).sub, INPUT.sub);
      assert.equal(decodeProtectedHeader(token).kid, kid);
      await jwks.close();
      await assert.rejects(signer.rotate(), ConfigError);
    }
  });

  test('refuses a configured key that is not EC P-256 PEM', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const rsaPem = Buffer.from(rsa.export({ format: 'pem', type: 'pkcs8' }) as string);
    for (const signingKeyPem of [
      pem('pkcs8', 'P-384'),
      rsaPem.toString('base64'),
      'bm90IGEga2V5',
    ]) {
      await assert.rejects(
        AssertionSigner.create({
          store: createMemoryStorage().signingKeys,
          sharedSecret: SECRET,
          signingKeyPem,
        }),
        (err: unknown) => err instanceof ConfigError && err.source === 'signing_key',
      );
    }
  });

  describe('rotation', () => {
    const T0 = 1_800_000_000_000;
    let now = T0;
    const clock = () => now;
    const options = { sharedSecret: SECRET, clock, reloadIntervalMs: 60_000, clockSkewMs: 60_000 };
    // A retired key stays published for reload interval + token lifetime + skew.
    const RETENTION = 60_000 + 300_000 + 60_000;
    const storage = createMemoryStorage();
    let jwks: Awaited<ReturnType<typeof serveJwks>>;
    let signer: AssertionSigner;
    let replica: AssertionSigner;

    before(async () => {
      signer = await AssertionSigner.create({ ...options, store: storage.signingKeys });
      replica = await AssertionSigner.create({ ...options, store: storage.signingKeys });
      jwks = await serveJwks(signer);
    });
    after(() => jwks.close());

    test('makes a new key current and keeps the old one published until its tokens expire', async () => {
      const oldKid = signer.currentKid;
      const oldToken = await signer.sign(INPUT);
      now += 1_000;
      const retiredAt = now;
      await signer.rotate();
      const newKid = signer.currentKid;
      assert.notEqual(newKid, oldKid);
      assert.equal(decodeProtectedHeader(await signer.sign(INPUT)).kid, newKid);
      assert.deepEqual(
        (await signer.jwks()).keys.map((k) => k.kid),
        [newKid, oldKid],
      );

      // The verifier's clock is real; the token's is frozen, so check the signature only.
      const verify = createAssertionVerifier({
        jwksUrl: jwks.url,
        issuers: [HOST],
        clockToleranceSeconds: 1e10,
      });
      assert.equal((await verify(oldToken)).sub, INPUT.sub);

      now = retiredAt + RETENTION - 1;
      await signer.refresh();
      assert.deepEqual(
        (await signer.jwks()).keys.map((k) => k.kid),
        [newKid, oldKid],
      );
      now = retiredAt + RETENTION + 1;
      assert.deepEqual(
        (await signer.jwks()).keys.map((k) => k.kid),
        [newKid],
      );
      await signer.refresh();
      assert.deepEqual(
        (await storage.signingKeys.list()).map((k) => k.kid),
        [newKid],
      );
    });

    test('another replica switches at its next reload, without a storage read per token', async () => {
      assert.notEqual(replica.currentKid, signer.currentKid);
      now += 60_000;
      await replica.sign(INPUT); // stale: starts a reload, signs with what it has
      await replica.refresh();
      assert.equal(replica.currentKid, signer.currentKid);
    });

    test('a rotation within the same millisecond still makes the new key current', async () => {
      const before = signer.currentKid;
      await signer.rotate();
      await signer.rotate();
      assert.notEqual(signer.currentKid, before);
      const current = (await storage.signingKeys.list()).filter((k) => k.retiredAt === null);
      assert.deepEqual(
        current.map((k) => k.kid),
        [signer.currentKid],
      );
    });
  });

  test('keeps its last key when a reload fails, reports it, and retries later', async () => {
    let now = 1_800_000_000_000;
    const inner = createMemoryStorage().signingKeys;
    let down = false;
    const store: SigningKeyStore = {
      ...inner,
      list: () => (down ? Promise.reject(new Error('storage down')) : inner.list()),
      prune: (b) => (down ? Promise.reject(new Error('storage down')) : inner.prune(b)),
    };
    const errors: unknown[] = [];
    const signer = await AssertionSigner.create({
      store,
      sharedSecret: SECRET,
      clock: () => now,
      onError: (err) => errors.push(err),
    });
    const kid = signer.currentKid;
    down = true;
    now += 60_000;
    for (let i = 0; i < 50; i++) await signer.sign(INPUT);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(errors.length, 1, 'one failed reload, not one per token');
    assert.equal(decodeProtectedHeader(await signer.sign(INPUT)).kid, kid);
    down = false;
    now += 5_000;
    await signer.sign(INPUT);
    await signer.refresh();
    assert.equal(signer.currentKid, kid);
    assert.equal(errors.length, 1);
  });

  test('signs from memory: no storage access per token, and fast', async (t) => {
    const { store, calls } = countingStore(createMemoryStorage().signingKeys);
    const signer = await AssertionSigner.create({ store, sharedSecret: SECRET });
    const reads = calls.n;
    for (let i = 0; i < 200; i++) await signer.sign(INPUT);
    const n = 2_000;
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) await signer.sign(INPUT);
    const perToken = Number(process.hrtime.bigint() - start) / n / 1000;
    t.diagnostic(`sign: ${perToken.toFixed(1)} µs per token`);
    assert.equal(calls.n, reads);
    assert.ok(perToken < 2_000, `${perToken} µs per token`);
  });
});
