/**
 * A stand-in for the gateway's signer: an ES256 key, its JWKS served on 127.0.0.1, and a
 * signed `X-Pomerium-Jwt-Assertion` for the load.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';

export const BENCH_ISSUER = 'authenticate.bench.localhost';

export interface AssertionSigner {
  readonly jwksUrl: string;
  /** A valid assertion for a fixed user, good for an hour. */
  readonly token: string;
  close(): Promise<void>;
}

export async function startAssertionSigner(): Promise<AssertionSigner> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const kid = 'bench-1';
  const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES256' }] });
  const token = await new SignJWT({
    email: 'ada@example.com',
    name: 'Ada Lovelace',
    groups: ['engineering', 'bench'],
  })
    .setProtectedHeader({ alg: 'ES256', kid })
    .setIssuer(BENCH_ISSUER)
    .setSubject('user-ada')
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(privateKey);

  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(jwks);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    jwksUrl: `http://127.0.0.1:${port}/.well-known/pomerium/jwks.json`,
    token,
    close: () =>
      new Promise((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}
