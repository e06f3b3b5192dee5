import type { SecureContextOptions, Server, TlsOptions } from 'node:tls';
import type { CertificateStore } from './store.js';

/**
 * HTTP/1.1 only: MCP clients match on the `Unauthorized` reason phrase, which HTTP/2 does not
 * carry (RFC 9113 §8.3.2). A client that offers only `h2` is refused in the handshake
 * (`no_application_protocol`, RFC 7301 §3.2) rather than answered in a protocol it did not ask for.
 */
const ALPN = ['http/1.1'];

/** The TLS options of the HTTPS listener: certificates from `store`, chosen by SNI. */
export function tlsServerOptions(store: CertificateStore): TlsOptions {
  return { ...defaultPair(store), SNICallback: store.sniCallback, ALPNProtocols: ALPN };
}

/**
 * A client that sends no server name never reaches the SNI callback: it gets the server's own
 * context. Keeps that context on the store's default certificate as the store changes.
 * Returns the stop.
 */
export function followDefaultCertificate(server: Server, store: CertificateStore): () => void {
  let current = store.default;
  return store.onChange(() => {
    const next = store.default;
    if (next === current || next === undefined) return;
    current = next;
    server.setSecureContext(defaultPair(store));
  });
}

function defaultPair(store: CertificateStore): SecureContextOptions {
  const served = store.default;
  return served ? { cert: served.pair.cert, key: served.pair.key } : {};
}
