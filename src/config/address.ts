import type { IssueSink } from './issues.js';
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
