/**
 * The tools/list filter for `text/event-stream` answers (filter-tools.ts judges each event's
 * data as it judges a JSON answer).
 */
import { Transform, type TransformCallback } from 'node:stream';
import { parseStrictJsonBytes } from './strict-json.js';
import {
  errorsValue,
  MAX_TOOLS_LIST_BYTES,
  rewrite,
  stringify,
  type ToolsListRequest,
} from './filter-tools.js';

const LF = 0x0a;
const CR = 0x0d;
const LF_BUF = Buffer.from([LF]);

interface HeldLine {
  raw: Buffer;
  readonly contentLength: number;
  readonly data: boolean;
}

export interface SseFilterOptions extends ToolsListRequest {
  /** Largest event held while its data is read. */
  readonly maxEventBytes?: number;
  /** Told about each event dropped or refused (for the log; removed tools are no issue). */
  readonly onIssue?: (message: string) => void;
}

/**
 * Filters a `text/event-stream` body (WHATWG HTML §9.2 "Server-sent events" framing: lines end
 * in CRLF, LF or CR; an empty line ends an event; `data` lines join with LF; `:` starts a
 * comment). Bytes pass through untouched except the `data` of an event that answers one of the
 * tools/list ids. Lines before an event's first `data` line go out at once; from the first
 * `data` line the event is held until its empty line, the only buffering. Event data that is not
 * strict JSON is dropped (the event's empty line still goes out); an event larger than
 * `maxEventBytes` ends the stream with an error event for each tools/list id.
 */
export class ToolsListSseFilter extends Transform {
  private readonly request: ToolsListRequest;
  private readonly maxEventBytes: number;
  private readonly onIssue: (message: string) => void;
  private partial: Buffer[] = [];
  private partialLength = 0;
  /** The last line ended in CR at a chunk's end; an LF opening the next chunk belongs to it. */
  private skipLf = false;
  private lastLineHeld = false;
  private held: HeldLine[] = [];
  private heldBytes = 0;
  private dataParts: Buffer[] = [];
  private discarding = false;
  private out: Buffer[] = [];

  constructor(options: SseFilterOptions) {
    super();
    this.request = options;
    this.maxEventBytes = options.maxEventBytes ?? MAX_TOOLS_LIST_BYTES;
    this.onIssue = options.onIssue ?? (() => {});
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (this.discarding) return done();
    if (this.request.ids.size === 0) return done(null, chunk);
    this.scan(chunk);
    this.flushOut();
    if (this.discarding) this.push(null);
    done();
  }

  override _flush(done: TransformCallback): void {
    // An event not ended by an empty line is discarded by clients; never send one unfiltered.
    if (!this.discarding && this.held.length === 0 && this.partialLength > 0) {
      const line = Buffer.concat(this.partial);
      if (!isDataLine(line)) this.out.push(line);
    }
    this.flushOut();
    done();
  }

  private scan(chunk: Buffer): void {
    let start = 0;
    if (this.skipLf && chunk.length > 0) {
      this.skipLf = false;
      if (chunk[0] === LF) {
        this.appendToLastLine(LF_BUF);
        start = 1;
      }
    }
    let nextCr = chunk.indexOf(CR, start);
    let nextLf = chunk.indexOf(LF, start);
    while (start < chunk.length && (nextCr !== -1 || nextLf !== -1)) {
      const end = nextCr === -1 ? nextLf : nextLf === -1 ? nextCr : Math.min(nextCr, nextLf);
      let termLength = 1;
      if (chunk[end] === CR) {
        if (end + 1 < chunk.length && chunk[end + 1] === LF) termLength = 2;
        else if (end + 1 === chunk.length) this.skipLf = true;
      }
      const piece = chunk.subarray(start, end);
      const content = this.partialLength === 0 ? piece : Buffer.concat([...this.partial, piece]);
      const raw = Buffer.concat([content, chunk.subarray(end, end + termLength)]);
      this.partial = [];
      this.partialLength = 0;
      this.line(content, raw);
      if (this.discarding) return;
      start = end + termLength;
      if (nextCr !== -1 && nextCr < start) nextCr = chunk.indexOf(CR, start);
      if (nextLf !== -1 && nextLf < start) nextLf = chunk.indexOf(LF, start);
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      this.partial.push(rest);
      this.partialLength += rest.length;
      if (this.heldBytes + this.partialLength > this.maxEventBytes) this.overflow();
    }
  }

  private line(content: Buffer, raw: Buffer): void {
    if (content.length === 0) return this.dispatch(raw);
    const data = isDataLine(content);
    if (this.held.length === 0 && !data) {
      this.out.push(raw);
      this.lastLineHeld = false;
      return;
    }
    this.held.push({ raw, contentLength: content.length, data });
    this.heldBytes += raw.length;
    this.lastLineHeld = true;
    if (data) this.dataParts.push(dataValue(content));
    if (this.heldBytes > this.maxEventBytes) this.overflow();
  }

  private appendToLastLine(bytes: Buffer): void {
    const last = this.held[this.held.length - 1];
    if (this.lastLineHeld && last) {
      last.raw = Buffer.concat([last.raw, bytes]);
      this.heldBytes += bytes.length;
    } else {
      this.out.push(bytes);
    }
  }

  private dispatch(blank: Buffer): void {
    if (this.held.length > 0) this.out.push(...this.judgeEvent());
    this.out.push(blank);
    this.lastLineHeld = false;
    this.held = [];
    this.heldBytes = 0;
    this.dataParts = [];
  }

  /** The held lines of one event, as they should go out. */
  private judgeEvent(): Buffer[] {
    const raws = this.held.map((l) => l.raw);
    const data = joinLines(this.dataParts);
    if (data.length === 0) return raws; // e.g. the priming event (id, empty data) of MCP resumption
    const parsed = parseStrictJsonBytes(data);
    if (!parsed.ok) {
      this.onIssue(`dropped an SSE event whose data is not strict JSON: ${parsed.message}`);
      return [];
    }
    const text = this.judgedData(parsed.value);
    if (text === null) return raws;
    let first = true;
    return this.held.flatMap((l) => {
      if (!l.data) return [l.raw];
      if (!first) return [];
      first = false;
      return [Buffer.from(`data: ${text}`), l.raw.subarray(l.contentLength)];
    });
  }

  /** The data to send in place of an event's, or null to send it unchanged. */
  private judgedData(value: unknown): string | null {
    const result = rewrite(value, this.request);
    if (result.ok && !result.changed) return null;
    if (!result.ok) {
      this.onIssue(`replaced an SSE event the gateway cannot judge: ${result.reason}`);
      return JSON.stringify(errorsValue(this.request.ids));
    }
    return stringify(result.value) ?? JSON.stringify(errorsValue(this.request.ids));
  }

  private overflow(): void {
    this.onIssue(`SSE event over ${this.maxEventBytes} bytes: stream ended`);
    this.discarding = true;
    this.held = [];
    this.partial = [];
    this.out.push(Buffer.from(`\ndata: ${JSON.stringify(errorsValue(this.request.ids))}\n\n`));
  }

  private flushOut(): void {
    if (this.out.length === 0) return;
    const bytes = this.out.length === 1 ? this.out[0]! : Buffer.concat(this.out);
    this.out = [];
    this.push(bytes);
  }
}

function isDataLine(content: Buffer): boolean {
  // The field name is everything before the first colon (or the whole line).
  return (
    content.length >= 4 &&
    content[0] === 0x64 &&
    content[1] === 0x61 &&
    content[2] === 0x74 &&
    content[3] === 0x61 &&
    (content.length === 4 || content[4] === 0x3a)
  );
}

function dataValue(content: Buffer): Buffer {
  if (content.length <= 5) return Buffer.alloc(0);
  return content.subarray(content[5] === 0x20 ? 6 : 5);
}

function joinLines(parts: readonly Buffer[]): Buffer {
  if (parts.length === 1) return parts[0]!;
  const pieces: Buffer[] = [];
  parts.forEach((p, i) => {
    if (i > 0) pieces.push(LF_BUF);
    pieces.push(p);
  });
  return Buffer.concat(pieces);
}
