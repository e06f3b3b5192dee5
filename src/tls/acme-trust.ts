/**
 * `autocert_trusted_ca`: a private ACME server's HTTPS certificate is signed by a CA the public
 * roots do not hold. acme-client sends every request through one shared axios instance and
 * takes no agent of its own, so a request interceptor gives requests to the ACME server's origin
 * an agent that trusts that CA besides the public roots; requests anywhere else are untouched.
 */
import { Agent } from 'node:https';
import { rootCertificates } from 'node:tls';
import { axios as acmeAxios } from 'acme-client';

/** Trusts `caPem` for requests to the origin of `directoryUrl`; returns the undo. */
export function trustForAcmeServer(directoryUrl: string, caPem: string): () => void {
  const origin = new URL(directoryUrl).origin;
  const agent = new Agent({ ca: [...rootCertificates, caPem], keepAlive: true });
  const id = acmeAxios.interceptors.request.use((config) => {
    if (config.url !== undefined && originOf(config.url) === origin) config.httpsAgent = agent;
    return config;
  });
  return () => {
    acmeAxios.interceptors.request.eject(id);
    agent.destroy();
  };
}

function originOf(url: string): string | undefined {
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}
