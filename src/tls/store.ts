import type { SecureContext } from 'node:tls';
import { prepareCertificate, type CertificatePair, type ServedCertificate } from './certificate.js';

/**
 * The certificates the HTTPS listener serves, chosen per connection by the name the client asks
 * for (SNI, RFC 6066 §3). Entries have a stable id (`config:0` for the first configured
 * certificate; an ACME module would use its own, such as `acme:example.com`) and keep their place
 * when replaced: for a name, an exact match wins over a wildcard, and among several of a kind the
 * earliest entry wins, so configured certificates come before ones added later. The first entry
 * is the default, served to clients that send no name or one that no certificate has.
 */
export class CertificateStore {
  private readonly entries = new Map<string, ServedCertificate>();
  private exact = new Map<string, ServedCertificate>();
  /** `*.example.com` is kept under `example.com`: it stands for exactly one more label. */
  private wildcard = new Map<string, ServedCertificate>();
  private readonly listeners = new Set<() => void>();

  /**
   * Adds or replaces the certificate under `id`, checking it first (a `CertificateError` leaves
   * the store as it was). Returns what is now served.
   */
  set(id: string, pair: CertificatePair): ServedCertificate {
    return this.put(id, prepareCertificate(pair));
  }

  /** As `set`, for a pair already checked with `prepareCertificate`. */
  put(id: string, served: ServedCertificate): ServedCertificate {
    this.entries.set(id, served);
    this.changed();
    return served;
  }

  delete(id: string): boolean {
    const had = this.entries.delete(id);
    if (had) this.changed();
    return had;
  }

  get(id: string): ServedCertificate | undefined {
    return this.entries.get(id);
  }

  get size(): number {
    return this.entries.size;
  }

  /** The first entry; undefined while the store is empty. */
  get default(): ServedCertificate | undefined {
    return this.entries.values().next().value;
  }

  /** The certificate for a client that asked for `servername` (undefined: none sent). */
  select(servername: string | undefined): ServedCertificate | undefined {
    if (servername) {
      const name = servername.toLowerCase().replace(/\.$/, '');
      const found = this.exact.get(name) ?? this.wildcard.get(parentOf(name));
      if (found) return found;
    }
    return this.default;
  }

  /** Node's `SNICallback`: never fails while the store has a certificate. */
  readonly sniCallback = (
    servername: string,
    done: (err: Error | null, context?: SecureContext) => void,
  ): void => {
    const served = this.select(servername);
    if (served) done(null, served.context);
    else done(new Error('no certificate to serve'));
  };

  /** Told after every change; returns the unsubscribe. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    const exact = new Map<string, ServedCertificate>();
    const wildcard = new Map<string, ServedCertificate>();
    for (const served of this.entries.values()) {
      for (const name of served.names) {
        const [index, key] = name.startsWith('*.') ? [wildcard, name.slice(2)] : [exact, name];
        if (!index.has(key)) index.set(key, served);
      }
    }
    this.exact = exact;
    this.wildcard = wildcard;
    for (const listener of this.listeners) listener();
  }
}

/** `b.example.com` for `a.b.example.com`; '' for a single label (no wildcard covers it). */
function parentOf(name: string): string {
  const dot = name.indexOf('.');
  return dot <= 0 ? '' : name.slice(dot + 1);
}
