/**
 * Signs `X-Pomerium-Jwt-Assertion` (REFERENCE §2): ES256, `kid` = JWK thumbprint, Pomerium's
 * claim set, exp = iat + 5 min. The key is the configured `signing_key`, else one generated
 * once and kept encrypted in storage, so every replica and restart signs with the same key.
 */
import { randomUUID, sign as signBytes } from 'node:crypto';
import type { JWK } from 'jose';
import { ConfigError } from '../core/errors.js';
import { CryptoError, deriveKey } from '../core/crypto.js';
import type { SigningKeyRecord, SigningKeyStore } from '../storage/types.js';
import {
  fromRecord,
  generateSigningKey,
  importSigningKeyPem,
  publicJwkOf,
  toRecord,
  type SigningKeyPair,
} from './keys.js';

/** Pomerium's assertion lifetime: exp = iat + 300. */
export const ASSERTION_LIFETIME_SECONDS = 300;

export interface AssertionInput {
  /** The route's `from` host name (Pomerium's default `jwt_issuer_format`, hostOnly). */
  readonly issuer: string;
  /** The route's `from` host name. */
  readonly audience: string;
  readonly sub: string;
  /** Pomerium sends an empty string for a missing email or name; so do we for null. */
  readonly email: string | null;
  readonly name: string | null;
  readonly groups: readonly string[];
  /** The session id the token derives from (never the cookie value itself). */
  readonly sid: string;
  /** More claims, for `jwt_claims_headers`; they never override the claims above. */
  readonly extraClaims?: Readonly<Record<string, unknown>>;
}

export interface AssertionSignerOptions {
  readonly store: SigningKeyStore;
  /** `shared_secret`: the stored private key is encrypted with a key derived from it. */
  readonly sharedSecret: string;
  /** `signing_key` (base64 of a PEM EC P-256 key); when set, it is used and never stored. */
  readonly signingKeyPem?: string | null | undefined;
  /** Milliseconds since the epoch. */
  readonly clock?: () => number;
  /** How often keys are re-read from storage (another replica may have rotated). */
  readonly reloadIntervalMs?: number;
  /** Clock difference tolerated by verifiers; a retired key stays published this much longer. */
  readonly clockSkewMs?: number;
  /**
   * How long `jwks()` may serve the stored key list before re-reading it (public parts only),
   * so every replica publishes a key another one started signing with within this delay.
   */
  readonly jwksCacheMs?: number;
  /** Called when a background reload fails; the signer keeps its last keys. */
  readonly onError?: (err: unknown) => void;
}

interface State {
  readonly current: SigningKeyPair;
  /** base64url of the JWS protected header, which depends on the key only. */
  readonly header: string;
  readonly loadedAt: number;
}

interface Published {
  readonly keys: readonly { readonly jwk: JWK; readonly retiredAt: number | null }[];
  readonly readAt: number;
}

const PURPOSE = 'signing-key';

export class AssertionSigner {
  #state: State;
  #published: Published;
  #refreshing: Promise<void> | undefined;
  /** When `sign` next starts a background reload (pushed back after a failure too). */
  #nextReloadAt: number;
  #reading: Promise<void> | undefined;
  readonly #retentionMs: number;

  private constructor(
    private readonly options: AssertionSignerOptions & { readonly clock: () => number },
    private readonly key: Buffer,
    private readonly configured: SigningKeyPair | undefined,
    [state, published]: [State, Published],
  ) {
    this.#state = state;
    this.#published = published;
    this.#nextReloadAt = state.loadedAt + this.#interval;
    // A replica may sign with a retired key until its next reload; then its tokens live 5 min.
    this.#retentionMs =
      this.#interval + ASSERTION_LIFETIME_SECONDS * 1000 + (options.clockSkewMs ?? 60_000);
  }

  static async create(options: AssertionSignerOptions): Promise<AssertionSigner> {
    const clock = options.clock ?? Date.now;
    const key = deriveKey(options.sharedSecret, PURPOSE);
    if (options.signingKeyPem) {
      const pair = await importSigningKeyPem(options.signingKeyPem);
      const published = { keys: [{ jwk: pair.publicJwk, retiredAt: null }], readAt: Infinity };
      return new AssertionSigner({ ...options, clock }, key, pair, [
        toState(pair, Infinity), // nothing to reload
        published,
      ]);
    }
    const loaded = await loadStored(options.store, key, clock(), undefined);
    return new AssertionSigner({ ...options, clock }, key, undefined, loaded);
  }

  /** The kid tokens are signed with now. */
  get currentKid(): string {
    return this.#state.current.kid;
  }

  /** A compact JWS (RFC 7515 §7.1) with Pomerium's claims. No storage access. */
  async sign(input: AssertionInput): Promise<string> {
    const now = this.options.clock();
    if (now >= this.#nextReloadAt) this.#refreshInBackground(now);
    const { current, header } = this.#state;
    const iat = Math.floor(now / 1000);
    const claims = {
      ...input.extraClaims,
      iss: input.issuer,
      aud: input.audience,
      jti: randomUUID(),
      iat,
      exp: iat + ASSERTION_LIFETIME_SECONDS,
      sub: input.sub,
      user: input.sub,
      email: input.email ?? '',
      groups: [...input.groups],
      sid: input.sid,
      name: input.name ?? '',
    };
    const signingInput = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
    // RFC 7518 §3.4: ES256 is the raw R || S pair, not DER. node:crypto signs in about half
    // the time jose takes here, and this runs on every proxied request.
    const signature = signBytes('sha256', Buffer.from(signingInput), {
      key: current.privateKey,
      dsaEncoding: 'ieee-p1363',
    });
    return `${signingInput}.${signature.toString('base64url')}`;
  }

  /** The key set to publish: the current key and retired keys whose tokens may still live. */
  async jwks(): Promise<{ keys: JWK[] }> {
    const now = this.options.clock();
    if (now >= this.#nextReloadAt) this.#refreshInBackground(now);
    if (now - this.#published.readAt >= (this.options.jwksCacheMs ?? 1_000)) {
      await this.#readPublished(now).catch((err: unknown) => this.#report(err));
    }
    const keys = this.#published.keys
      .filter((k) => k.retiredAt === null || k.retiredAt + this.#retentionMs > now)
      .map((k) => ({ ...k.jwk }));
    return { keys };
  }

  /**
   * Makes a new key current and retires the others; they stay published until their last
   * tokens expire, then are pruned. With a configured `signing_key`, rotate by changing it.
   */
  async rotate(): Promise<void> {
    if (this.configured) {
      throw new ConfigError('signing_key', 'a configured signing key is rotated by changing it');
    }
    const { store, clock } = this.options;
    const now = clock();
    const newest = (await store.list())[0];
    // Strictly newer than every stored key, so it wins "newest" even within one millisecond.
    const createdAt = Math.max(now, (newest?.createdAt ?? 0) + 1);
    const pair = await generateSigningKey();
    await store.add(toRecord(pair, this.key, createdAt));
    await this.refresh();
  }

  /** Re-reads keys from storage now (after a rotation elsewhere; periodic otherwise). */
  async refresh(): Promise<void> {
    // A reload already running may have read before the change this caller wants to see.
    await this.#refreshing?.catch(() => undefined);
    return this.#reload();
  }

  #reload(): Promise<void> {
    if (this.configured) return Promise.resolve();
    this.#refreshing ??= (async () => {
      try {
        const now = this.options.clock();
        await this.options.store.prune(now - this.#retentionMs);
        [this.#state, this.#published] = await loadStored(
          this.options.store,
          this.key,
          now,
          this.#state.current,
        );
        this.#nextReloadAt = now + this.#interval;
      } finally {
        this.#refreshing = undefined;
      }
    })();
    return this.#refreshing;
  }

  #readPublished(now: number): Promise<void> {
    this.#reading ??= (async () => {
      try {
        this.#published = toPublished(await this.options.store.list(), now);
      } finally {
        this.#reading = undefined;
      }
    })();
    return this.#reading;
  }

  #refreshInBackground(now: number): void {
    if (this.#refreshing !== undefined) return;
    // Until this reload succeeds (which pushes it a full interval), retry soon without
    // hammering a storage that is down.
    this.#nextReloadAt = now + Math.min(this.#interval, 5_000);
    this.#reload().catch((err: unknown) => this.#report(err));
  }

  get #interval(): number {
    return this.options.reloadIntervalMs ?? 60_000;
  }

  #report(err: unknown): void {
    if (this.options.onError) this.options.onError(err);
    else process.emitWarning(`assertion signing keys could not be reloaded: ${String(err)}`);
  }
}

function toState(current: SigningKeyPair, now: number): State {
  const header = { alg: 'ES256', kid: current.kid, typ: 'JWT' };
  return {
    current,
    header: Buffer.from(JSON.stringify(header)).toString('base64url'),
    loadedAt: now,
  };
}

function toPublished(records: readonly SigningKeyRecord[], now: number): Published {
  return {
    keys: records.map((r) => ({ jwk: publicJwkOf(r), retiredAt: r.retiredAt })),
    readAt: now,
  };
}

/**
 * The newest unretired stored key, generating and storing one when there is none. Replicas
 * starting together may each add a key; the newest wins, and whoever sees the others retires
 * them (they stay published while their tokens live), so all converge by the next reload.
 */
async function loadStored(
  store: SigningKeyStore,
  key: Buffer,
  now: number,
  cached: SigningKeyPair | undefined,
): Promise<[State, Published]> {
  let records = await store.list();
  if (!records.some((r) => r.retiredAt === null)) {
    await store.add(toRecord(await generateSigningKey(), key, now));
    records = await store.list();
  }
  const [record, ...extra] = records.filter((r) => r.retiredAt === null);
  if (record === undefined) throw new Error('no current signing key in storage');
  for (const r of extra) await store.retire(r.kid, now);
  if (extra.length > 0) records = await store.list();
  const current = cached?.kid === record.kid ? cached : await openStored(record, key);
  return [toState(current, now), toPublished(records, now)];
}

async function openStored(record: SigningKeyRecord, key: Buffer): Promise<SigningKeyPair> {
  try {
    return await fromRecord(record, key);
  } catch (err) {
    if (!(err instanceof CryptoError)) throw err;
    throw new ConfigError(
      'shared_secret',
      `does not open the stored signing key ${record.kid}: it was created with another shared_secret. Every replica must share one shared_secret; to start over with a new key, delete the rows of the signing_keys table.`,
    );
  }
}
