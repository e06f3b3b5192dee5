import { spawn, type ChildProcess } from 'node:child_process';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ToolError } from '../../core/errors.js';
import type { ChildMessage, Job, JobResult } from './protocol.js';

export interface ProcessOptions {
  readonly file: string;
  /** Address-space cap of the process (RLIMIT_AS), in MiB. */
  readonly memoryMb: number;
}

const WORKER_FILE = fileURLToPath(
  new URL(`./query-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url),
);
/** How long a cancelled job may still take before its process is killed. */
const CANCEL_GRACE_MS = 100;
/** How long a new process may take to open the database before it counts as failed. */
const START_TIMEOUT_MS = 10_000;

export function cancelled(): ToolError {
  return new ToolError('cancelled', 'the query was cancelled');
}

/** One query process: runs one job at a time; killing it is how a job is stopped. */
export class QueryProcess {
  alive = true;
  /** Resident memory the process reported after its last job, in bytes. */
  rssBytes = 0;
  private pending: { id: number; resolve(r: JobResult): void; reject(e: Error): void } | undefined;
  private nextId = 1;
  private readonly exited: Promise<void>;

  private constructor(private readonly child: ChildProcess) {
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

  get pid(): number | undefined {
    return this.child.pid;
  }

  static spawn(options: ProcessOptions): Promise<QueryProcess> {
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
        if (m.type === 'ready') resolve(new QueryProcess(child));
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
    this.rssBytes = m.rssBytes;
    if (m.type === 'done') pending.resolve(m.result);
    else pending.reject(new ToolError(m.failure.code, m.failure.message));
  }
}
