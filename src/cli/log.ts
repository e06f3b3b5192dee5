/**
 * The process's logger. JSON lines (pino) for `portcullis gateway` and `servers`, and for
 * `dev` when its output goes to a file or a pipe; one readable line per event (pino-pretty)
 * for `dev` at a terminal, which is what `npm start` is. `LOG_FORMAT=json` or `pretty`
 * chooses either way for any command.
 */
import { writeSync } from 'node:fs';
import { pino, type Level, type Logger } from 'pino';
import pretty from 'pino-pretty';
import { ConfigError } from '../core/errors.js';
import { LineBatch } from './line-batch.js';

export type LogFormat = 'json' | 'pretty';

/** LOG_FORMAT, or the command's default. Empty means unset, as for every other variable. */
export function logFormat(
  env: NodeJS.ProcessEnv,
  command: string,
  stdoutIsTty: boolean,
): LogFormat {
  const raw = env.LOG_FORMAT?.trim();
  if (raw === undefined || raw === '') {
    return command === 'dev' && stdoutIsTty ? 'pretty' : 'json';
  }
  if (raw === 'json' || raw === 'pretty') return raw;
  throw new ConfigError(
    'LOG_FORMAT (environment)',
    `expected json or pretty, got ${JSON.stringify(raw)}`,
  );
}

export function createLogger(level: Level, format: LogFormat): Logger {
  if (format === 'json') return pino({ level }, bufferedStdout());
  // Synchronous, in this thread: a person reads it, a line at a time, as it happens.
  const stream = pretty({
    sync: true,
    destination: 1,
    colorize: pretty.isColorSupported && process.stdout.isTTY === true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname',
  });
  return pino({ level }, stream);
}

/** How long a line may wait in the buffer: Envoy's access logs wait up to a second. */
const FLUSH_INTERVAL_MS = 250;
const BATCH_CHARS = 4096;

/**
 * Standard output written a batch at a time: the lines of many requests go out in one write,
 * issued from libuv's thread pool, once 4 KiB have gathered or a quarter of a second has passed.
 * A write per line cost about 5 % of a proxied request's CPU (the audit line is on every
 * tool call). What is gathered is written when the process exits, a crash included; only a
 * SIGKILL can lose the last quarter second.
 */
function bufferedStdout(): LineBatch {
  return new LineBatch(pino.destination({ dest: 1, sync: false }), {
    maxChars: BATCH_CHARS,
    maxWaitMs: FLUSH_INTERVAL_MS,
    writeSync: (data) => writeSync(1, data),
  });
}
