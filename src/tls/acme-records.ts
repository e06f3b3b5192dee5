/**
 * What automatic certificates keep in storage, as records of the generic record store
 * (`OAuthStore`, docs/storage.md) under three models, so every replica on the storage serves
 * the same certificates and answers the CA's challenges whichever replica ordered:
 * - `AcmeAccount`, per ACME directory: the account's private key, sealed;
 * - `AcmeCertificate`, per directory and host: the chain and its private key, sealed, until
 *   the certificate expires (a switch of CA, such as staging to production, finds none);
 * - `AcmeChallenge`, per token: the host and the key authorization (public by design: the CA
 *   fetches it over plain HTTP, RFC 8555 §8.3), for an hour at most.
 * Keys are sealed with a key derived from `shared_secret`, bound to their record by the AAD.
 */
import { CryptoError, deriveKey, open, seal } from '../core/crypto.js';
import type { OAuthStore } from '../storage/types.js';
import type { CertificatePair } from './certificate.js';

const ACCOUNT = 'AcmeAccount';
const CERTIFICATE = 'AcmeCertificate';
const CHALLENGE = 'AcmeChallenge';
const CHALLENGE_TTL_MS = 3_600_000;

/** Why a stored value was passed over (told to `onUnreadable`, then treated as missing). */
export type Unreadable = 'sealed with another shared_secret' | 'malformed';

export class AcmeRecords {
  private readonly key: Buffer;

  constructor(
    private readonly store: OAuthStore,
    sharedSecret: string,
    private readonly directoryUrl: string,
    private readonly onUnreadable: (model: string, why: Unreadable) => void = () => {},
  ) {
    this.key = deriveKey(sharedSecret, 'portcullis acme keys v1');
  }

  /** The account's private key (PEM) at this directory, if one was made. */
  async accountKey(now: number): Promise<string | undefined> {
    const record = await this.store.find(ACCOUNT, this.directoryUrl, now);
    if (record === undefined) return undefined;
    return this.unseal(ACCOUNT, record.payload.keyEnc, `${ACCOUNT}\0${this.directoryUrl}`);
  }

  async saveAccountKey(keyPem: string, now: number): Promise<void> {
    const keyEnc = seal(this.key, keyPem, `${ACCOUNT}\0${this.directoryUrl}`);
    await this.store.upsert(ACCOUNT, this.directoryUrl, { keyEnc, createdAt: now }, null);
  }

  async certificate(host: string, now: number): Promise<CertificatePair | undefined> {
    const id = this.certificateId(host);
    const record = await this.store.find(CERTIFICATE, id, now);
    if (record === undefined) return undefined;
    const { cert } = record.payload;
    const key = this.unseal(CERTIFICATE, record.payload.keyEnc, `${CERTIFICATE}\0${id}`);
    if (typeof cert !== 'string') this.onUnreadable(CERTIFICATE, 'malformed');
    return typeof cert === 'string' && key !== undefined ? { cert, key } : undefined;
  }

  /** Kept until `expiresAt` (the certificate's notAfter), then swept. */
  async saveCertificate(host: string, pair: CertificatePair, expiresAt: number): Promise<void> {
    const id = this.certificateId(host);
    const keyEnc = seal(this.key, pair.key, `${CERTIFICATE}\0${id}`);
    await this.store.upsert(CERTIFICATE, id, { host, cert: pair.cert, keyEnc }, expiresAt);
  }

  async putChallenge(token: string, host: string, keyAuthorization: string, now: number) {
    const payload = { host, keyAuthorization };
    await this.store.upsert(CHALLENGE, token, payload, now + CHALLENGE_TTL_MS);
  }

  /** The key authorization of `token`, when it was published for `host`. */
  async challenge(token: string, host: string, now: number): Promise<string | undefined> {
    const record = await this.store.find(CHALLENGE, token, now);
    const { host: stored, keyAuthorization } = record?.payload ?? {};
    return stored === host && typeof keyAuthorization === 'string' ? keyAuthorization : undefined;
  }

  async deleteChallenge(token: string): Promise<void> {
    await this.store.destroy(CHALLENGE, token);
  }

  private certificateId(host: string): string {
    return `${this.directoryUrl}\0${host}`;
  }

  private unseal(model: string, sealed: unknown, aad: string): string | undefined {
    if (typeof sealed !== 'string') {
      this.onUnreadable(model, 'malformed');
      return undefined;
    }
    try {
      return open(this.key, sealed, aad);
    } catch (err) {
      if (!(err instanceof CryptoError)) throw err;
      this.onUnreadable(model, 'sealed with another shared_secret');
      return undefined;
    }
  }
}
