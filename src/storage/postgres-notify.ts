/**
 * The invalidation bus of replicas sharing one PostgreSQL database: `NOTIFY` on one channel,
 * heard by one dedicated connection per replica doing `LISTEN` (a pooled connection cannot:
 * the pool hands it to queries and closes it when idle).
 *
 * An event is delivered in this process at once, then sent through the pool with
 * `pg_notify`; it comes back to this process's listener too and is recognised there by its
 * origin (`o`), so it is delivered once. While the listener is disconnected, events from
 * other replicas are lost: `healthy()` is false from the moment the connection fails until
 * `LISTEN` runs again (caches are bypassed meanwhile), and then `{k:'all'}` is delivered
 * here so caches drop what they kept from before. Reconnection backs off from 50 ms to 2 s.
 */
import pg from 'pg';
import { randomId } from '../core/crypto.js';
import {
  Subscribers,
  toInvalidationEvent,
  type InvalidationBus,
  type InvalidationEvent,
} from './invalidation.js';
import type { PgDb } from './postgres-db.js';

export const INVALIDATION_CHANNEL = 'portcullis_invalidate';
const LISTEN = `LISTEN ${INVALIDATION_CHANNEL}`;

/** PostgreSQL refuses a NOTIFY payload of 8000 bytes or more (its default build). */
const MAX_PAYLOAD_BYTES = 7_999;

export interface PostgresBusOptions {
  /** Told when the listener's connection fails (it reconnects by itself). */
  readonly onError?: (err: Error) => void;
  /** The longest wait between reconnection attempts. Default 2 s. */
  readonly maxBackoffMs?: number;
  /** How often the listener's connection is checked with a query. Default 5 s. */
  readonly heartbeatMs?: number;
}

/**
 * Starts listening (the first attempt is awaited; a failed one is retried in the background,
 * unhealthy meanwhile) and returns the bus. `db` is the storage's pool, which sends.
 */
export async function openPostgresBus(
  client: pg.ClientConfig,
  db: PgDb,
  options: PostgresBusOptions = {},
): Promise<InvalidationBus> {
  const listener = new Listener(client, db, options);
  await listener.connect();
  return listener;
}

class Listener implements InvalidationBus {
  /** Marks this process's events, so the echo from the database is not delivered twice. */
  private readonly origin = randomId(12);
  private readonly subscribers = new Subscribers();
  private current: pg.Client | undefined;
  private listening = false;
  private everLost = false;
  private closed = false;
  private failures = 0;
  private retry: NodeJS.Timeout | undefined;
  private readonly heartbeat: NodeJS.Timeout;

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly db: PgDb,
    private readonly options: PostgresBusOptions,
  ) {
    this.heartbeat = setInterval(() => this.check(), options.heartbeatMs ?? 5_000);
    this.heartbeat.unref();
  }

  async publish(event: InvalidationEvent): Promise<void> {
    this.subscribers.deliver(event);
    let payload = JSON.stringify({ ...event, o: this.origin });
    // Events carry ids and hashes, far below the limit; one that is not still reaches everyone.
    if (Buffer.byteLength(payload) > MAX_PAYLOAD_BYTES) {
      payload = JSON.stringify({ k: 'all', o: this.origin });
    }
    await this.db.run('SELECT pg_notify($1, $2)', [INVALIDATION_CHANNEL, payload]);
  }

  subscribe(handler: (event: InvalidationEvent) => void): () => void {
    return this.subscribers.add(handler);
  }

  healthy(): boolean {
    return this.listening;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listening = false;
    clearInterval(this.heartbeat);
    clearTimeout(this.retry);
    const client = this.current;
    this.current = undefined;
    await client?.end().catch(() => undefined);
  }

  /** One attempt to connect and LISTEN; a failure schedules the next. */
  async connect(): Promise<void> {
    if (this.closed) return;
    const client = new pg.Client({
      ...this.config,
      application_name: 'portcullis-listen',
      keepAlive: true,
    });
    this.current = client;
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, new Error('the connection ended')));
    client.on('notification', (message) => {
      if (message.channel === INVALIDATION_CHANNEL) this.received(message.payload);
    });
    try {
      await client.connect();
      await client.query(LISTEN);
    } catch (err) {
      this.lost(client, toError(err));
      return;
    }
    if (this.current !== client) return;
    this.failures = 0;
    this.listening = true;
    // What was kept before the gap may have been revoked during it.
    if (this.everLost) this.subscribers.deliver({ k: 'all' });
  }

  private lost(client: pg.Client, err: Error): void {
    if (this.current !== client) return;
    this.current = undefined;
    this.listening = false;
    this.everLost = true;
    client.end().catch(() => undefined);
    if (this.closed) return;
    this.options.onError?.(new Error(`invalidation listener: ${err.message}`, { cause: err }));
    const delay = Math.min(this.options.maxBackoffMs ?? 2_000, 50 * 2 ** this.failures++);
    this.retry = setTimeout(() => void this.connect(), delay);
    this.retry.unref();
  }

  /** A connection that broke without a word (a cut network) fails this query, or never answers. */
  private check(): void {
    const client = this.current;
    if (client === undefined || !this.listening) return;
    const timer = setTimeout(
      () => this.lost(client, new Error('the listener stopped answering')),
      2_000,
    );
    timer.unref();
    // LISTEN again is a no-op that keeps `pg_stat_activity` showing what this connection is for.
    client.query(LISTEN).then(
      () => clearTimeout(timer),
      (err: unknown) => {
        clearTimeout(timer);
        this.lost(client, toError(err));
      },
    );
  }

  private received(payload: string | undefined): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(payload ?? '');
    } catch {
      parsed = undefined;
    }
    if ((parsed as { o?: unknown } | undefined)?.o === this.origin) return;
    // Something this code did not send (another version, a hand-made NOTIFY): to be safe, drop all.
    this.subscribers.deliver(toInvalidationEvent(parsed) ?? { k: 'all' });
  }
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
