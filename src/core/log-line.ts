/**
 * A log line whose fields the caller has serialized itself, in the logger's own format: what
 * `logger.info(fields, msg)` writes, built from the pieces pino keeps on the logger (its level
 * prefix, its clock, its bindings, its message key and its line end) and handed to its stream.
 * For the one line on the proxy's hot path, the audit line of every tool call: pino walks the
 * object a key at a time and costs 10–14 µs a line inside the gateway; a known record
 * serialized in one pass costs a fraction of that. The gateway's loggers have no serializers,
 * hooks, mixins or log formatters (`src/cli/log.ts`); those are not applied here.
 */
import { pino, type DestinationStream, type Logger } from 'pino';

const sym = pino.symbols;
const INFO = pino.levels.values.info!;

/** The parts of a pino logger its own line is made of. */
interface PinoInternals {
  readonly [sym.lsCacheSym]: Record<number, string>;
  readonly [sym.timeSym]: () => string;
  readonly [sym.chindingsSym]: string;
  readonly [sym.messageKeySym]: string;
  readonly [sym.endSym]: string;
  readonly [sym.streamSym]: DestinationStream;
}

/**
 * Writes an info line: `fields` is the record's JSON members, each preceded by a comma
 * (`,"a":1,"b":"x"`), `msg` the message. Nothing is written when info is not enabled.
 */
export function writeInfoLine(logger: Logger, fields: string, msg: string): void {
  if (!logger.isLevelEnabled('info')) return;
  const p = logger as unknown as PinoInternals;
  const line =
    p[sym.lsCacheSym][INFO]! +
    p[sym.timeSym]() +
    p[sym.chindingsSym] +
    fields +
    `,"${p[sym.messageKeySym]}":${JSON.stringify(msg)}` +
    p[sym.endSym];
  p[sym.streamSym].write(line);
}
