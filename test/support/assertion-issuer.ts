import { createServer, type Server, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import {
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  SignJWT,
  type CryptoKey,
  type JWK,
  type JWTPayload,
} from 'jose';

/** Pomerium's issuer is a bare host name; its audience is the route host. */
export const ISSUER = 'authenticate.example.com';
export const AUDIENCE = 'whoami.example.com';
export const JWKS_PATH = '/.well-known/pomerium/jwks.json';

export interface SigningKey {
  /** RFC 7638 thumbprint of the public key, as Pomerium sets `kid`. */
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
}

/** A fresh ES256 key pair with `kid` = JWK thumbprint. */
export async function newSigningKey(): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  return { kid, privateKey, publicJwk: { ...jwk, kid, alg: 'ES256', use: 'sig' } };
}

export interface JwksServer {
  /** The key set URL, as ASSERTION_JWKS_URL takes it. */
  readonly url: URL;
  /** How many times the key set was requested. */
  readonly hits: number;
  /** Replaces the published keys. */
  publish(keys: readonly SigningKey[]): void;
  /** Answer every request with this status and body instead of the keys; undefined restores. */
  failWith(status: number | undefined, body?: string): void;
  /** Holds every answer back this long (a slow key server keeps a verification in flight). */
  delay(ms: number): void;
  close(): Promise<void>;
}

/** Serves a JWKS the way Pomerium does (Cache-Control max-age=60, ETag, CORS *). */
export async function startJwksServer(keys: readonly SigningKey[]): Promise<JwksServer> {
  let published = [...keys];
  let hits = 0;
  let delayMs = 0;
  let failure: { status: number; body: string } | undefined;
  const server: Server = createServer((req, res) => {
    if (req.url !== JWKS_PATH) {
      res.writeHead(404).end();
      return;
    }
    hits++;
    if (delayMs > 0) setTimeout(() => answer(res), delayMs);
    else answer(res);
  });
  const answer = (res: ServerResponse) => {
    if (failure !== undefined) {
      res.writeHead(failure.status, { 'content-type': 'application/json' }).end(failure.body);
      return;
    }
    const body = JSON.stringify({ keys: published.map((k) => k.publicJwk) });
    res.writeHead(200, {
      'content-type': 'application/json',
      'cache-control': 'max-age=60',
      etag: `"${published.map((k) => k.kid).join('.')}"`,
      'access-control-allow-origin': '*',
    });
    res.end(body);
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: new URL(`http://127.0.0.1:${port}${JWKS_PATH}`),
    get hits() {
      return hits;
    },
    publish(next) {
      published = [...next];
    },
    delay(ms) {
      delayMs = ms;
    },
    failWith(status, body = 'unavailable') {
      failure = status === undefined ? undefined : { status, body };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface AssertionOptions {
  /** Claims to add or replace; `undefined` values remove the claim. */
  readonly claims?: Record<string, unknown>;
  /** Extra or replacement protected header parameters. */
  readonly header?: Record<string, unknown>;
  /** Seconds added to "now" for `iat` (negative: issued in the past). */
  readonly issuedAtOffset?: number;
}

/** The claims Pomerium puts in `X-Pomerium-Jwt-Assertion`, for a test user. */
export function pomeriumClaims(options: AssertionOptions = {}): JWTPayload {
  const iat = Math.floor(Date.now() / 1000) + (options.issuedAtOffset ?? 0);
  const claims: Record<string, unknown> = {
    iss: ISSUER,
    aud: AUDIENCE,
    jti: randomUUID(),
    iat,
    exp: iat + 5 * 60,
    sub: 'user-8f2c',
    user: 'user-8f2c',
    email: 'ada@example.com',
    groups: ['engineering', 'admins'],
    sid: randomUUID(),
    name: 'Ada Lovelace',
    ...options.claims,
  };
  for (const [k, v] of Object.entries(claims)) if (v === undefined) delete claims[k];
  return claims;
}

/** An ES256 assertion in Pomerium's shape, signed with `key`. */
export function signAssertion(key: SigningKey, options: AssertionOptions = {}): Promise<string> {
  return new SignJWT(pomeriumClaims(options))
    .setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: 'JWT', ...options.header })
    .sign(key.privateKey);
}

/** A compact JWT built by hand, for forms no honest library signs (`alg: none`, HS256 with a public key). */
export function rawJwt(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  signature = '',
): string {
  const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${part(header)}.${part(payload)}.${signature}`;
}

/** The same token with its payload replaced and the original signature kept. */
export function withPayload(token: string, payload: Record<string, unknown>): string {
  const [header, , signature] = token.split('.');
  return `${header}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${signature}`;
}
