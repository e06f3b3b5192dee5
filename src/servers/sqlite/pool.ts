import { spawn, type ChildProcess } from 'node:child_process';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { ToolError } from '../../core/errors.js';
import type { ChildMessage, Job, JobResult } from './protocol.js';

export interface PoolOptions {
  readonly file: string;
  /** Processes in this pool; more than one so a single bomb does not queue everyone. */
  readonly size: number;
  /** Wall-clock limit for one job, queueing excluded. */
  readonly timeoutMs: number;
  /** Address-space cap of each process (RLIMIT_AS), in MiB. */
  readonly memoryMb: number;
  /** Jobs waiting for a free process at most; more are refused as busy. */
  readonly maxQueue: number;
  readonly logger: Logger;
  /** Name for logs. */
  readonly name: string;
}

const WORKER_FILE = fileURLToPath(
  new URL(`./query-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url),
);
/** How long a cancelled job may still take before its process is killed. */
const CANCEL_GRACE_MS = 100;
/** How long a new process may take to open the database before it counts as failed. */
const START_TIMEOUT_MS = 10_000;

interface Waiter {
  readonly job: Job;
  readonly signal: AbortSignal | undefined;
  resolve(result: JobResult): void;
  reject(err: Error): void;
}

/**
 * A fixed set of query processes. A job that outlives its deadline, or whose caller goes
 * away, is stopped by killing its process (SIGKILL ends even a query stuck in one native
 * call), and a fresh process takes the slot.
 */
export class QueryPool {
  private readonly idle: Worker[] = [];
  private readonly all = new Set<Worker>();
  private readonly queue: Waiter[] = [];
  private closed = false;

  constructor(private readonly options: PoolOptions) {}

  /** Starts every process and warms it up; rejects if the database cannot be opened. */
  async start(): Promise<void> {
    const workers = await Promise.all(
      Array.from({ length: this.options.size }, () => this.spawnWarm()),
    );
    for (const w of workers) this.add(w);
  }

  private async spawnWarm(): Promise<Worker> {
    const worker = await Worker.spawn(this.options);
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
      signal?.addEventListener(
        'abort',
        () => {
          const i = this.queue.indexOf(waiter);
          if (i !== -1) {
            this.queue.splice(i, 1);
            reject(cancelled());
          }
        },
        { once: true },
      );
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.queue.splice(0))
      w.reject(new ToolError('unavailable', 'the server is shutting down'));
    await Promise.all([...this.all].map((w) => w.stop()));
  }

  private add(worker: Worker): void {
    this.all.add(worker);
    this.release(worker);
  }

  private release(worker: Worker): void {
    const next = this.queue.shift();
    if (next) this.execute(worker, next);
    else this.idle.push(worker);
  }

  private execute(worker: Worker, waiter: Waiter): void {
    worker.run(waiter.job, this.options.timeoutMs, waiter.signal).then(
      (result) => {
        waiter.resolve(result);
        this.release(worker);
      },
      (err: Error) => {
        waiter.reject(err);
        if (worker.alive) this.release(worker);
        else this.replace(worker);
      },
    );
  }

  private replace(dead: Worker): void {
    this.all.delete(dead);
    if (this.closed) return;
    this.spawnWarm().then(
      (fresh) => (this.closed ? void fresh.stop() : this.add(fresh)),
      (err: unknown) => {
        this.options.logger.error(
          { err, pool: this.options.name },
          'sqlite: could not replace a query process',
        );
        // Try again later rather than spin; the remaining processes keep serving.
        setTimeout(() => this.replace(dead), 1000).unref();
      },
    );
  }
}

function cancelled(): ToolError {
  return new ToolError('cancelled', 'the query was cancelled');
}

class Worker {
  alive = true;
  private pending: { id: number; resolve(r: JobResult): void; reject(e: Error): void } | undefined;
  private nextId = 1;
  private readonly exited: Promise<void>;

  private constructor(
    private readonly child: ChildProcess,
    private readonly options: PoolOptions,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.on('message', (m: ChildMessage) => this.onMessage(m));
    child.once('exit', (code, signal) => {
      this.alive = false;
      this.fail(
        signal === 'SIGKILL'
          ? undefined
          : new ToolError(
              'resource_limit',
              'the query was stopped: it used more memory than the server allows',
              { exit_code: code, signal },
            ),
      );
    });
  }

  static spawn(options: PoolOptions): Promise<Worker> {
    const kib = options.memoryMb * 1024;
    // `ulimit -v` sets RLIMIT_AS for the exec'd Node; the small V8 heap keeps JS inside it.
    const child = spawn(
      '/bin/sh',
      [
        '-c',
        'ulimit -v "$0" && exec "$@"',
        String(kib),
        process.execPath,
        '--max-old-space-size=256',
        '--enable-source-maps',
        WORKER_FILE,
      ],
      {
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
        env: { PATH: process.env.PATH, PORTCULLIS_SQLITE_FILE: options.file },
      },
    );
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      if (stderr.length < 4096) stderr += chunk.toString();
    });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`query process did not start within ${START_TIMEOUT_MS} ms`));
      }, START_TIMEOUT_MS);
      const onMessage = (m: ChildMessage) => {
        if (m.type !== 'ready' && m.type !== 'fatal') return;
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
        if (m.type === 'ready') resolve(new Worker(child, options));
        else {
          child.kill('SIGKILL');
          reject(new Error(`cannot open the database: ${m.message}`));
        }
      };
      const onExit = (code: number | null) => {
        clearTimeout(timer);
        reject(new Error(`query process exited during start (code ${code}): ${stderr.trim()}`));
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  }

  run(job: Job, timeoutMs: number, signal: AbortSignal | undefined): Promise<JobResult> {
    const id = this.nextId++;
    return new Promise<JobResult>((resolve, reject) => {
      this.pending = { id, resolve, reject };
      const timer = setTimeout(() => {
        this.kill(
          new ToolError(
            'timeout',
            `the query was stopped: it ran longer than the ${timeoutMs / 1000} s limit`,
            { timeout_ms: timeoutMs },
          ),
        );
      }, timeoutMs);
      // A job about to finish is let finish: killing costs a process start, and a client that
      // hangs up on cheap calls over and over should not make us pay one each time.
      const onAbort = () => {
        graceTimer = setTimeout(() => this.kill(cancelled()), CANCEL_GRACE_MS);
      };
      let graceTimer: NodeJS.Timeout | undefined;
      signal?.addEventListener('abort', onAbort, { once: true });
      const settle = () => {
        clearTimeout(timer);
        clearTimeout(graceTimer);
        signal?.removeEventListener('abort', onAbort);
      };
      this.pending = {
        id,
        resolve: (r) => (settle(), resolve(r)),
        reject: (e) => (settle(), reject(e)),
      };
      this.child.send({ id, job });
    });
  }

  async stop(): Promise<void> {
    if (this.alive) this.child.kill('SIGKILL');
    await this.exited;
  }

  private kill(reason: Error): void {
    this.fail(reason);
    this.alive = false;
    this.child.kill('SIGKILL');
  }

  private fail(reason: Error | undefined): void {
    const pending = this.pending;
    if (!pending) return;
    this.pending = undefined;
    pending.reject(reason ?? new ToolError('stopped', 'the query process stopped unexpectedly'));
  }

  private onMessage(m: ChildMessage): void {
    const pending = this.pending;
    if (!pending || (m.type !== 'done' && m.type !== 'failed') || m.id !== pending.id) return;
    this.pending = undefined;
    if (m.type === 'done') pending.resolve(m.result);
    else pending.reject(new ToolError(m.failure.code, m.failure.message));
  }
}
