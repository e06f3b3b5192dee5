/**
 * A listening socket that could not be opened because of the address it was given: taken by
 * another process, a privileged port, not an address of this machine, a name that does not
 * resolve. Those are start-up input to fix, reported as the setting's error (one line, exit 78);
 * any other failure of `listen()` is not, and is left as it is.
 */

/** What each errno code of a failed bind means to whoever set the address. */
const REASONS: ReadonlyMap<string, string> = new Map([
  ['EADDRINUSE', 'already in use by another process'],
  ['EACCES', 'permission denied (a port below 1024 needs root or CAP_NET_BIND_SERVICE)'],
  ['EPERM', 'not permitted'],
  ['EADDRNOTAVAIL', 'not an address of this machine'],
  ['ENOTFOUND', 'the host name does not resolve'],
]);

/** `host:port`, `[v6]:port`, or `:port` for every interface, as the settings spell it. */
export function listenAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The errno code of `err`, when it has one. */
export function errnoCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * `cannot listen on 127.0.0.1:8080: already in use by another process (EADDRINUSE)` for a bind
 * that failed because of its address; undefined for any other failure.
 */
export function listenFailure(err: unknown, host: string, port: number): string | undefined {
  const code = errnoCode(err);
  const reason = code === undefined ? undefined : REASONS.get(code);
  if (reason === undefined) return undefined;
  return `cannot listen on ${listenAddress(host, port)}: ${reason} (${code})`;
}
