import { listenFailure } from '../core/listen-failure.js';
import { ConfigValidationError, type IssueLocation, type IssueSink } from './issues.js';
import type { Address } from './types.js';

/** `host:port`, `[v6]:port` or `:port` (every interface), as Go's `net.Listen` takes them. */
export function parseAddress(text: string, key: string, sink: IssueSink): Address | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    sink.error(
      [key],
      `expected host:port or :port (such as :443 or 127.0.0.1:8080), got ${JSON.stringify(text)}`,
    );
    return undefined;
  }
  return { host: m[1] ?? m[2] ?? '', port };
}

/**
 * What a listener on `address` (set `at`) that could not bind throws: the setting's error, as
 * if the config check had found it (`FILE:LINE key: cannot listen on …`, exit 78), when the
 * failure is the address's (`core/listen-failure.ts`); `err` itself otherwise.
 */
export function bindFailure(err: unknown, address: Address, at: IssueLocation): unknown {
  const message = listenFailure(err, address.host, address.port);
  if (message === undefined) return err;
  return new ConfigValidationError(at.file, [{ severity: 'error', ...at, message }]);
}
