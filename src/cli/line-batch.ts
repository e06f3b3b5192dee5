/**
 * Log lines gathered into batches before they reach pino's asynchronous destination, so the
 * lines of many requests go out in one write from libuv's pool. pino's own `minLength` keeps
 * the batch as one growing string and measures its UTF-8 length again on every line (about
 * 6 µs a line once it holds a few hundred bytes, on the gateway's hot path: the audit line of
 * every tool call); here a line is one array push and one addition.
 */
import type { DestinationStream } from 'pino';

/** Where a batch goes: pino's destination (sonic-boom), which writes it and handles EAGAIN. */
export interface BatchSink {
  write(data: string): boolean;
  flush(cb?: (err?: Error) => void): void;
  flushSync(): void;
}

export interface LineBatchOptions {
  /** A batch goes out once its lines hold this many characters. */
  readonly maxChars: number;
  /** …or once its oldest line waited this long. */
  readonly maxWaitMs: number;
  /** Where the last lines go if the process exits once the sink was ended. */
  readonly writeSync: (data: string) => void;
}

export class LineBatch implements DestinationStream {
  private lines: string[] = [];
  private chars = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly sink: BatchSink & { readonly destroyed?: boolean },
    private readonly options: LineBatchOptions,
  ) {
    // Registered before anything can end the sink at exit (pino's own exit hook flushes and
    // ends it): what is gathered is written synchronously, a crash included.
    process.on('exit', () => this.flushSync());
  }

  write(line: string): boolean {
    this.lines.push(line);
    this.chars += line.length;
    if (this.chars >= this.options.maxChars) this.pass();
    else if (this.timer === undefined) {
      this.timer = setTimeout(() => this.pass(), this.options.maxWaitMs);
      this.timer.unref();
    }
    return true;
  }

  /** What is gathered goes to the sink now, and the sink writes it out (pino's `flush`). */
  flush(cb?: (err?: Error) => void): void {
    this.pass();
    this.sink.flush(cb);
  }

  flushSync(): void {
    const pending = this.take();
    if (this.sink.destroyed) {
      if (pending !== '') this.options.writeSync(pending);
      return;
    }
    if (pending !== '') this.sink.write(pending);
    this.sink.flushSync();
  }

  /** Hands the gathered lines to the sink as one string. */
  private pass(): void {
    const pending = this.take();
    if (pending !== '') this.sink.write(pending);
  }

  private take(): string {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.lines.length === 0) return '';
    const joined = this.lines.length === 1 ? this.lines[0]! : this.lines.join('');
    this.lines = [];
    this.chars = 0;
    return joined;
  }
}
