/**
 * The AsyncLocalStorages that OAuth requests run in, switched off while none is being served.
 *
 * oidc-provider serves each request inside an AsyncLocalStorage (its `lib/helpers/als.js`), and
 * the gateway keeps one of its own for the fetches of a request (`oauth/cimd.ts`). On Node 20 an
 * AsyncLocalStorage that has run once turns async hooks on for the whole process, for good: every
 * promise and every async resource created afterwards (each timer, socket write and HTTP parser
 * of every proxied request) goes through an init hook. The MCP traffic the gateway mostly serves
 * never reads these storages, so they are disabled again whenever no OAuth request is in flight:
 * the next one to `run` enables its storage (and the hooks) again. Node 24's async context
 * frames make this unnecessary.
 */
import type { AsyncLocalStorage } from 'node:async_hooks';

const storages = new Set<AsyncLocalStorage<unknown>>();
let inFlight = 0;

/** Puts `storage` under this module's switch; it is used only inside `servingOAuth`. */
export function switchedStorage<T>(storage: AsyncLocalStorage<T>): AsyncLocalStorage<T> {
  storages.add(storage as AsyncLocalStorage<unknown>);
  return storage;
}

/**
 * Runs `serve` (one OAuth request, or a part of one; nesting is fine) counted as in flight; when
 * the last one settles, every switched storage is disabled.
 */
export async function servingOAuth<T>(serve: () => Promise<T>): Promise<T> {
  inFlight += 1;
  try {
    return await serve();
  } finally {
    inFlight -= 1;
    if (inFlight === 0) for (const storage of storages) storage.disable();
  }
}
