/**
 * Automatic certificates (`autocert`): for every host, a certificate from an ACME CA
 * (RFC 8555), kept in storage and served from the `CertificateStore` under `acme:<host>`.
 * At start and then every minute each host is looked at: a certificate in storage that differs
 * from the one served is served (another replica ordered it); none, or one past two thirds of
 * its lifetime, is ordered by whichever replica takes the storage lease `acme:<host>`, while the
 * others pick the result up from storage. A failed order is tried again after a backoff that
 * doubles up to an hour (Let's Encrypt allows 5 failed validations per host and hour).
 */
import type { Logger } from 'pino';
import { randomId } from '../core/crypto.js';
import type { Storage } from '../storage/types.js';
import type { AcmeChallengeResponder } from './acme-challenge.js';
import { CertificateCache } from './acme-cache.js';
import { createAccountKey, orderCertificate, type ChallengeBoard } from './acme-order.js';
import { AcmeRecords } from './acme-records.js';
import { trustForAcmeServer } from './acme-trust.js';
import { prepareCertificate, type CertificatePair, type ServedCertificate } from './certificate.js';
import type { CertificateStore } from './store.js';

export interface AutocertOptions {
  /** Lower-case DNS names, one certificate each. */
  readonly hosts: readonly string[];
  readonly directoryUrl: string;
  readonly email: string | null;
  /** PEM of a CA to trust for the ACME server's HTTPS (a private CA); null: public roots. */
  readonly trustedCaPem: string | null;
  /** `autocert_dir`; null: no local copy. */
  readonly cacheDir: string | null;
  readonly storage: Pick<Storage, 'oauth' | 'leases'>;
  readonly sharedSecret: string;
  readonly logger: Logger;
  readonly tuning?: AutocertTuning;
}

/** For tests; the defaults suit production. */
export interface AutocertTuning {
  /** How often storage is looked at and renewals considered: 60 s (5 s while a host has none). */
  readonly checkIntervalMs?: number;
  /** First wait between polls of a pending authorization or order: acme-client's 5 s. */
  readonly pollMs?: number;
  readonly now?: () => number;
}

const LEASE_MS = 10 * 60_000;
const MAX_BACKOFF_MS = 3_600_000;
const CLOSE_WAIT_MS = 5_000;

interface HostState {
  failures: number;
  /** No order before this (after a failure). */
  retryAt: number;
}

/** When a certificate is due for renewal: two thirds of its lifetime (Let's Encrypt: day 60). */
export function renewalTime(served: Pick<ServedCertificate, 'validFrom' | 'validTo'>): number {
  const from = served.validFrom.getTime();
  return from + ((served.validTo.getTime() - from) * 2) / 3;
}

export class Autocert {
  /** For `http_redirect_addr`: published here, or by another replica into storage. */
  readonly responder: AcmeChallengeResponder;
  private readonly records: AcmeRecords;
  private readonly cache: CertificateCache | null;
  private readonly holder = `acme-${randomId(9)}`;
  private readonly published = new Map<string, { host: string; keyAuthorization: string }>();
  private readonly hosts = new Map<string, HostState>();
  private readonly now: () => number;
  private readonly untrust: () => void;
  private store: CertificateStore | null = null;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | null = null;
  private pendingAccount: Promise<string | undefined> | null = null;
  private closed = false;

  constructor(private readonly options: AutocertOptions) {
    const { directoryUrl, logger } = options;
    this.now = options.tuning?.now ?? Date.now;
    this.records = new AcmeRecords(
      options.storage.oauth,
      options.sharedSecret,
      directoryUrl,
      (model, why) =>
        logger.warn({ model, why }, 'autocert: a stored record cannot be used; making a new one'),
    );
    this.cache = options.cacheDir ? new CertificateCache(options.cacheDir, directoryUrl) : null;
    for (const host of options.hosts) this.hosts.set(host, { failures: 0, retryAt: 0 });
    this.untrust = options.trustedCaPem
      ? trustForAcmeServer(directoryUrl, options.trustedCaPem)
      : () => {};
    this.responder = async (token, hostname) => {
      const mine = this.published.get(token);
      if (mine) return mine.host === hostname ? mine.keyAuthorization : undefined;
      return this.records.challenge(token, hostname, this.now());
    };
  }

  /** Serves what `autocert_dir` holds, then checks every host now and periodically. */
  async start(store: CertificateStore): Promise<void> {
    this.store = store;
    for (const host of this.hosts.keys()) {
      const pair = await this.cache?.read(host);
      if (pair) this.serve(host, pair, 'cache');
    }
    void this.check();
  }

  /** One look at every host (what the timer runs); a look already under way is joined. */
  check(): Promise<void> {
    this.running ??= this.checkAll().finally(() => {
      this.running = null;
      this.schedule();
    });
    return this.running;
  }

  /**
   * Stops looking. An order under way is waited for a few seconds (it cannot be cancelled); one
   * that takes longer goes on without its lease being released, which runs out in 10 minutes.
   */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    if (this.running) {
      let timer: NodeJS.Timeout | undefined;
      const give = new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT_MS)));
      await Promise.race([this.running, give]);
      clearTimeout(timer);
    }
    this.untrust();
  }

  private schedule(): void {
    if (this.closed) return;
    const interval = this.options.tuning?.checkIntervalMs ?? 60_000;
    const missing = [...this.hosts.keys()].some((host) => !this.store?.get(entryId(host)));
    this.timer = setTimeout(
      () => void this.check(),
      missing ? Math.min(interval, 5_000) : interval,
    );
    this.timer.unref();
  }

  private async checkAll(): Promise<void> {
    await Promise.all(
      [...this.hosts].map(([host, state]) =>
        this.checkHost(host, state).catch((err: unknown) => {
          this.options.logger.error({ err, host }, 'autocert: storage failed; trying again later');
        }),
      ),
    );
  }

  private async checkHost(host: string, state: HostState): Promise<void> {
    const served = await this.fromStorage(host);
    const now = this.now();
    if ((served && now < renewalTime(served)) || now < state.retryAt || this.closed) return;
    const { leases } = this.options.storage;
    const lease = `acme:${host}`;
    if (!(await leases.acquire(lease, this.holder, LEASE_MS, now))) return;
    try {
      // The replica that held the lease before may have just stored a fresh one.
      const fresh = await this.fromStorage(host);
      if (fresh && this.now() < renewalTime(fresh)) return;
      await this.order(host, state, fresh !== undefined);
    } finally {
      await leases.release(lease, this.holder);
    }
  }

  /** Serves the stored certificate for `host` (unless it is served already) and returns it. */
  private async fromStorage(host: string): Promise<ServedCertificate | undefined> {
    const pair = await this.records.certificate(host, this.now());
    return pair ? this.serve(host, pair, 'storage') : undefined;
  }

  private async order(host: string, state: HostState, renewal: boolean): Promise<void> {
    const { logger, directoryUrl } = this.options;
    try {
      const accountKey = await this.account();
      if (accountKey === undefined) return; // another replica is registering the account
      logger.info(
        { host, ca: directoryUrl },
        renewal ? 'autocert: renewing' : 'autocert: ordering',
      );
      const pair = await orderCertificate({
        directoryUrl,
        accountKey,
        email: this.options.email,
        host,
        board: this.board,
        ...(this.options.tuning?.pollMs !== undefined
          ? { pollMs: this.options.tuning.pollMs }
          : {}),
      });
      const served = prepareCertificate(pair);
      await this.records.saveCertificate(host, pair, served.validTo.getTime());
      this.serve(host, pair, 'ordered');
      state.failures = 0;
    } catch (err) {
      state.failures += 1;
      const interval = this.options.tuning?.checkIntervalMs ?? 60_000;
      const backoff = Math.min(interval * 2 ** (state.failures - 1), MAX_BACKOFF_MS);
      state.retryAt = this.now() + backoff;
      const retry_in_s = Math.round(backoff / 1000);
      logger.error({ err, host, ca: directoryUrl, retry_in_s }, 'autocert: order failed');
    }
  }

  /** The account key, made and stored once for every replica (the first to take the lease). */
  private account(): Promise<string | undefined> {
    this.pendingAccount ??= (async () => {
      const now = this.now();
      const stored = await this.records.accountKey(now);
      if (stored !== undefined) return stored;
      const { leases } = this.options.storage;
      if (!(await leases.acquire('acme:account', this.holder, LEASE_MS, now))) return undefined;
      try {
        const again = await this.records.accountKey(now);
        if (again !== undefined) return again;
        const key = await createAccountKey();
        await this.records.saveAccountKey(key, now);
        return key;
      } finally {
        await leases.release('acme:account', this.holder);
      }
    })().finally(() => (this.pendingAccount = null));
    return this.pendingAccount;
  }

  private readonly board: ChallengeBoard = {
    publish: async (token, host, keyAuthorization) => {
      this.published.set(token, { host, keyAuthorization });
      await this.records.putChallenge(token, host, keyAuthorization, this.now());
    },
    withdraw: async (token) => {
      this.published.delete(token);
      await this.records.deleteChallenge(token);
    },
  };

  private serve(host: string, pair: CertificatePair, from: 'cache' | 'storage' | 'ordered') {
    const { logger } = this.options;
    const store = this.store;
    if (!store) return undefined;
    const current = store.get(entryId(host));
    if (current?.pair.cert === pair.cert && current.pair.key === pair.key) return current;
    let served: ServedCertificate;
    try {
      served = prepareCertificate(pair);
    } catch (err) {
      logger.warn({ err, host, from }, 'autocert: a certificate cannot be served; passed over');
      return undefined;
    }
    store.put(entryId(host), served);
    logger.info(
      {
        certificate: entryId(host),
        from,
        names: served.names,
        fingerprint256: served.fingerprint256,
        valid_to: served.validTo.toISOString(),
      },
      'autocert: serving certificate',
    );
    if (from !== 'cache' && this.cache) {
      this.cache.write(host, pair).catch((err: unknown) => {
        logger.warn({ err, host }, 'autocert: cannot write autocert_dir');
      });
    }
    return served;
  }
}

function entryId(host: string): string {
  return `acme:${host}`;
}
