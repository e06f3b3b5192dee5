/**
 * One certificate order with `acme-client` (RFC 8555 §7.4): a new P-256 key and CSR for one
 * host, control proven with HTTP-01 (§8.3) through a `ChallengeBoard` that the listener on
 * `http_redirect_addr` reads, the full chain back.
 */
import { Client, crypto as acmeCrypto, setLogger } from 'acme-client';
import type { CertificatePair } from './certificate.js';

/** Where a challenge's key authorization is put for the CA to fetch, and taken down after. */
export interface ChallengeBoard {
  publish(token: string, host: string, keyAuthorization: string): Promise<void>;
  withdraw(token: string): Promise<void>;
}

export interface OrderRequest {
  readonly directoryUrl: string;
  /** PEM of the account key; the account is registered with it when the CA does not know it. */
  readonly accountKey: string;
  readonly email: string | null;
  readonly host: string;
  readonly board: ChallengeBoard;
  /** First wait between polls of a pending authorization or order (acme-client: 5 s). */
  readonly pollMs?: number;
}

/** A new P-256 account key, PEM. */
export async function createAccountKey(): Promise<string> {
  return (await acmeCrypto.createPrivateEcdsaKey()).toString();
}

export async function orderCertificate(request: OrderRequest): Promise<CertificatePair> {
  const { host, board } = request;
  const client = new Client({
    directoryUrl: request.directoryUrl,
    accountKey: request.accountKey,
    ...(request.pollMs !== undefined ? { backoffMin: request.pollMs } : {}),
  });
  const [key, csr] = await acmeCrypto.createCsr(
    { commonName: host, altNames: [host] },
    await acmeCrypto.createPrivateEcdsaKey(),
  );
  await ensureAccount(client, request.email);
  const cert = await client.auto({
    csr,
    ...(request.email ? { email: request.email } : {}),
    // Turning autocert on is agreeing to the CA's terms, as with Pomerium (certmagic).
    termsOfServiceAgreed: true,
    // No self-check before asking the CA, as certmagic: behind NAT without hairpinning or a
    // port mapping the gateway cannot reach its own public name while the CA can, and when the
    // CA cannot, its answer says why.
    skipChallengeVerification: true,
    challengePriority: ['http-01'],
    challengeCreateFn: async (_authz, challenge, keyAuthorization) => {
      if (challenge.type !== 'http-01') {
        throw new Error(`the CA offers no http-01 challenge for ${host} (only ${challenge.type})`);
      }
      await board.publish(challenge.token, host, keyAuthorization);
    },
    challengeRemoveFn: async (_authz, challenge) => {
      if (challenge.type === 'http-01') await board.withdraw(challenge.token);
    },
  });
  return { cert, key: key.toString() };
}

/**
 * Sends acme-client's own trace (each request, retry and status) to `log`. Its logger is one
 * for the whole process, so the CLI, which runs one gateway, sets it.
 */
export function traceAcmeClient(log: (message: string) => void): void {
  setLogger(log);
}

/**
 * Finds the CA's account for the key, or registers it (RFC 8555 §7.3, §7.3.1). Registration is
 * not left to acme-client's `auto`: on a key the CA already knows (every order after the first,
 * or two hosts ordered at once) it follows the 200 with an account update carrying only
 * `termsOfServiceAgreed`, which a CA may refuse as an empty update (pebble does) when no
 * `autocert_email` gives a contact. A lookup (`onlyReturnExisting`) is a plain POST-as-GET.
 */
async function ensureAccount(client: Client, email: string | null): Promise<void> {
  const lookUp = () => client.createAccount({ onlyReturnExisting: true });
  try {
    await lookUp();
    return;
  } catch {
    // accountDoesNotExist (§7.3.1): register it below.
  }
  const contact = email ? { contact: [`mailto:${email}`] } : {};
  try {
    await client.createAccount({ termsOfServiceAgreed: true, ...contact });
  } catch (err) {
    // Registered by a concurrent order in the meantime: the lookup now finds it.
    await lookUp().catch(() => {
      throw err;
    });
  }
}
