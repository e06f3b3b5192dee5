import type { Logger } from 'pino';
import { ToolError } from '../../core/errors.js';
import type { Job, JobResult } from './protocol.js';
import { QueryProcess, cancelled, type ProcessOptions } from './query-process.js';

export interface PoolOptions extends ProcessOptions {
  /** Processes at most; more than one so a single bomb does not queue everyone. */
  readonly size: number;
  /** Processes kept while idle (at least one: a lone caller never waits for a start). */
  readonly warm: number;
  /** An idle process beyond `warm` exits after this long. */
  readonly idleMs: number;
  /** A process whose resident memory after a job passed this many MiB is replaced. */
  readonly recycleMb: number;
  /** Wall-clock limit for one job, queueing excluded. */
  readonly timeoutMs: number;
  /** Jobs waiting for a free process at most; more are refused as busy. */
  readonly maxQueue: number;
  readonly logger: Logger;
  /** Name for logs. */
  readonly name: string;
}

/** How long to wait before trying again when a process could not be started. */
const RETRY_START_MS = 1000;

interface Waiter {
  readonly job: Job;
  readonly signal: AbortSignal | undefined;
  resolve(result: JobResult): void;
  reject(err: Error): void;
}

/**
 * A set of query processes, from `warm` up to `size`. A job that finds every process busy
 * starts another (up to `size`) and takes whichever is free first; processes beyond `warm`
 * exit once idle for `idleMs`, since each costs about 50 MB resident while it waits. A job that
 * outlives its deadline, or whose caller goes away, is stopped by killing its process (SIGKILL
 * ends even a query stuck in one native call). A process that grew past `recycleMb` is
 * replaced after its job, so one large answer does not leave memory held for good.
 */
export class QueryPool {
  private readonly idle: QueryProcess[] = [];
  private readonly all = new Set<QueryProcess>();
  private readonly retireTimers = new Map<QueryProcess, NodeJS.Timeout>();
  private readonly queue: Waiter[] = [];
  private starting = 0;
  private closed = false;

  constructor(private readonly options: PoolOptions) {}

  /** Starts the warm processes; rejects if the database cannot be opened. */
  async start(): Promise<void> {
    const started = await Promise.allSettled(
      Array.from({ length: Math.max(1, this.options.warm) }, () => this.spawnWarm()),
    );
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) {
      await Promise.all(started.map((s) => s.status === 'fulfilled' && s.value.stop()));
      throw failed.reason;
    }
    for (const s of started) if (s.status === 'fulfilled') this.add(s.value);
  }

  /** Process ids of the running processes (for logs and tests). */
  get processIds(): number[] {
    return [...this.all].flatMap((w) => (w.pid === undefined ? [] : [w.pid]));
  }

  private async spawnWarm(): Promise<QueryProcess> {
    const worker = await QueryProcess.spawn(this.options);
    try {
      // The first statement pays for reading the schema and loading code; not the first caller.
      await worker.run({ op: 'list_tables' }, this.options.timeoutMs, undefined);
    } catch (err) {
      await worker.stop();
      throw err;
    }
    return worker;
  }

  run(job: Job, signal?: AbortSignal): Promise<JobResult> {
    if (this.closed)
      return Promise.reject(new ToolError('unavailable', 'the server is shutting down'));
    if (signal?.aborted) return Promise.reject(cancelled());
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { job, signal, resolve, reject };
      const worker = this.idle.pop();
      if (worker) {
        this.execute(worker, waiter);
        return;
      }
      if (this.queue.length >= this.options.maxQueue) {
        reject(new ToolError('busy', 'the database is busy with other queries; try again shortly'));
        return;
      }
      this.queue.push(waiter);
      this.fill();
      signal?.addEventListener('abort', () => this.dequeue(waiter), { once: true });
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.retireTimers.values()) clearTimeout(timer);
    for (const w of this.queue.splice(0))
      w.reject(new ToolError('unavailable', 'the server is shutting down'));
    await Promise.all([...this.all].map((w) => w.stop()));
  }

  private dequeue(waiter: Waiter): void {
    const i = this.queue.indexOf(waiter);
    if (i === -1) return;
    this.queue.splice(i, 1);
    waiter.reject(cancelled());
  }

  private add(worker: QueryProcess): void {
    this.all.add(worker);
    this.release(worker);
  }

  /** After a caller's job (not the warm-up, which a fresh process always passes). */
  private finished(worker: QueryProcess): void {
    if (worker.rssBytes <= this.options.recycleMb * 1024 * 1024) {
      this.release(worker);
      return;
    }
    this.options.logger.info(
      { pool: this.options.name, rss_mb: Math.round(worker.rssBytes / 1024 / 1024) },
      'sqlite: replacing a query process that grew',
    );
    this.remove(worker);
    void worker.stop();
    this.fill();
  }

  private release(worker: QueryProcess): void {
    const next = this.queue.shift();
    if (next) this.execute(worker, next);
    else {
      this.idle.push(worker);
      this.scheduleRetire(worker);
    }
  }

  /** An idle process beyond the warm ones exits unless a job takes it within `idleMs`. */
  private scheduleRetire(worker: QueryProcess): void {
    if (this.all.size <= this.options.warm) return;
    const timer = setTimeout(() => {
      this.retireTimers.delete(worker);
      if (!this.idle.includes(worker) || this.all.size <= this.options.warm) return;
      this.remove(worker);
      void worker.stop();
    }, this.options.idleMs);
    timer.unref();
    this.retireTimers.set(worker, timer);
  }

  private remove(worker: QueryProcess): void {
    clearTimeout(this.retireTimers.get(worker));
    this.retireTimers.delete(worker);
    this.all.delete(worker);
    const i = this.idle.indexOf(worker);
    if (i !== -1) this.idle.splice(i, 1);
  }

  private execute(worker: QueryProcess, waiter: Waiter): void {
    clearTimeout(this.retireTimers.get(worker));
    this.retireTimers.delete(worker);
    worker.run(waiter.job, this.options.timeoutMs, waiter.signal).then(
      (result) => {
        waiter.resolve(result);
        this.finished(worker);
      },
      (err: Error) => {
        waiter.reject(err);
        if (worker.alive) this.finished(worker);
        else {
          this.remove(worker);
          this.fill();
        }
      },
    );
  }

  /** Starts processes until the warm ones are there and every waiting job has one coming. */
  private fill(): void {
    if (this.closed) return;
    const live = this.all.size + this.starting;
    const forQueue = Math.min(this.queue.length - this.starting, this.options.size - live);
    const wanted = Math.max(this.options.warm - live, forQueue);
    for (let i = 0; i < wanted; i++) this.spawnOne();
  }

  private spawnOne(): void {
    this.starting++;
    this.spawnWarm().then(
      (fresh) => {
        this.starting--;
        if (this.closed) void fresh.stop();
        else this.add(fresh);
      },
      (err: unknown) => {
        this.starting--;
        this.options.logger.error(
          { err, pool: this.options.name },
          'sqlite: could not start a query process',
        );
        // Try again later rather than spin; the remaining processes keep serving.
        setTimeout(() => this.fill(), RETRY_START_MS).unref();
      },
    );
  }
}
