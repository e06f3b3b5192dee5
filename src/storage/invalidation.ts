/**
 * Cache invalidation across the processes that share one storage. Each process keeps short
 * caches (bearer tokens, identity assertions, opened upstream tokens); a write that revokes
 * something is announced here, and every cache that holds a copy drops it. SQLite and memory
 * storage serve one process, so their bus delivers in-process only and is always healthy;
 * PostgreSQL's reaches every replica through LISTEN/NOTIFY (`postgres-notify.ts`).
 *
 * Events name what changed, never a secret: a token only by its SHA-256.
 */

/** What changed; the keys are short because every event travels as a NOTIFY payload. */
export type InvalidationEvent =
  /** A grant was revoked: every token issued under it. */
  | { readonly k: 'grant'; readonly id: string }
  /** An access token was revoked: SHA-256 (hex) of its value. */
  | { readonly k: 'token'; readonly hash: string }
  /** A gateway session ended (sign-out, refused refresh, deletion). */
  | { readonly k: 'session'; readonly idHash: string }
  /** Anything of this user may be stale (identity changed, signed out everywhere). */
  | { readonly k: 'user'; readonly sub: string }
  /** A registered MCP client was deleted. */
  | { readonly k: 'client'; readonly id: string }
  /** The user's upstream token on this route changed or was disconnected. */
  | { readonly k: 'upstream'; readonly sub: string; readonly route: string }
  /** Events may have been missed (a listener reconnected): drop everything. */
  | { readonly k: 'all' };

export type InvalidationHandler = (event: InvalidationEvent) => void;

export interface InvalidationBus {
  /** Announces `event` to every process, this one included (delivered here before it resolves). */
  publish(event: InvalidationEvent): Promise<void>;
  /** Calls `handler` for every event from now on; returns the unsubscribe. */
  subscribe(handler: InvalidationHandler): () => void;
  /**
   * False while events from other processes may be missed (the listener is disconnected):
   * caches must then not be trusted, every check goes to storage.
   */
  healthy(): boolean;
  close(): Promise<void>;
}

/** The handlers of one bus; a handler that throws does not keep the event from the others. */
export class Subscribers {
  private readonly handlers = new Set<InvalidationHandler>();

  constructor(private readonly onError: (err: unknown) => void = reportHandlerError) {}

  add(handler: InvalidationHandler): () => void {
    // A wrapper per subscription, so one handler subscribed twice is also removed twice.
    const entry: InvalidationHandler = (event) => handler(event);
    this.handlers.add(entry);
    return () => void this.handlers.delete(entry);
  }

  deliver(event: InvalidationEvent): void {
    for (const handler of this.handlers) {
      try {
        handler(event);
      } catch (err) {
        this.onError(err);
      }
    }
  }
}

/** The bus of a storage only one process uses (memory, SQLite): local delivery, always healthy. */
export function createLocalBus(): InvalidationBus {
  const subscribers = new Subscribers();
  return {
    publish: async (event) => subscribers.deliver(event),
    subscribe: (handler) => subscribers.add(handler),
    healthy: () => true,
    close: async () => {},
  };
}

/** Whether a cache may answer from memory: no bus (one process), or a healthy one. */
export function cacheTrusted(bus: InvalidationBus | undefined): boolean {
  return bus === undefined || bus.healthy();
}

const STRING_FIELDS: Readonly<Record<InvalidationEvent['k'], readonly string[]>> = {
  grant: ['id'],
  token: ['hash'],
  session: ['idHash'],
  user: ['sub'],
  client: ['id'],
  upstream: ['sub', 'route'],
  all: [],
};

/** `value` as an event when it has the shape of one (a payload from another process), else undefined. */
export function toInvalidationEvent(value: unknown): InvalidationEvent | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const record = value as Record<string, unknown>;
  const kind = record.k;
  if (typeof kind !== 'string' || !Object.hasOwn(STRING_FIELDS, kind)) return undefined;
  const fields = STRING_FIELDS[kind as InvalidationEvent['k']];
  if (!fields.every((f) => typeof record[f] === 'string')) return undefined;
  const event: Record<string, string> = { k: kind };
  for (const f of fields) event[f] = record[f] as string;
  return event as unknown as InvalidationEvent;
}

function reportHandlerError(err: unknown): void {
  process.emitWarning(
    `cache invalidation: a handler failed: ${err instanceof Error ? err.message : String(err)}`,
  );
}
