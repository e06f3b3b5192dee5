/**
 * Names under `example.test` (RFC 6761 §6.2: never in real DNS) for tests with several hosts
 * on one loopback gateway. This process's fetches (the tests' clients and the gateway's own,
 * such as sign-in through the built-in provider) resolve them to 127.0.0.1 through undici's
 * `connect.lookup`; Chromium is told the same with `--host-resolver-rules`.
 */
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { rootCertificates } from 'node:tls';
import { Agent, getGlobalDispatcher, setGlobalDispatcher } from 'undici';

export const TEST_DOMAIN = 'example.test';

/** Chromium's flag for the same mapping. */
export const CHROMIUM_HOST_RULES = `--host-resolver-rules=MAP *.${TEST_DOMAIN} 127.0.0.1`;

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/** `net.connect`'s `lookup`: `*.example.test` is 127.0.0.1, anything else the system's. */
export function exampleTestLookup(
  hostname: string,
  options: LookupOptions,
  callback: LookupCallback,
): void {
  if (hostname === TEST_DOMAIN || hostname.endsWith(`.${TEST_DOMAIN}`)) {
    if (options.all) return callback(null, [{ address: '127.0.0.1', family: 4 }]);
    return callback(null, '127.0.0.1', 4);
  }
  const system = dnsLookup as unknown as (h: string, o: LookupOptions, cb: LookupCallback) => void;
  system(hostname, options, callback);
}

/**
 * Makes every fetch of this process resolve `*.example.test` to loopback and trust `caPem` (as
 * well as the public roots); returns the undo.
 */
export function resolveExampleHosts(caPem: string): () => Promise<void> {
  const previous = getGlobalDispatcher();
  const agent = new Agent({
    connect: { ca: [...rootCertificates, caPem], lookup: exampleTestLookup },
  });
  setGlobalDispatcher(agent);
  return async () => {
    setGlobalDispatcher(previous);
    await agent.close();
  };
}
