/**
 * HTTP to 127.0.0.1 with any Host header (fetch cannot set one): one-off POSTs to check that a
 * configuration answers, and SSE streams read event by event with the arrival time of each.
 */
import { request, type IncomingMessage } from 'node:http';

export interface Target {
  readonly port: number;
  readonly path: string;
  /** The Host header; the gateway routes on it. */
  readonly host: string;
}

export interface Posted {
  readonly status: number;
  readonly body: string;
}

export function post(
  target: Target,
  headers: Record<string, string>,
  body: string,
): Promise<Posted> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: target.port,
        path: target.path,
        method: 'POST',
        headers: { ...headers, host: target.host, 'content-length': Buffer.byteLength(body) },
        agent: false,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('error', reject);
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Throws unless the answer is HTTP 200 with a successful JSON-RPC tool result. */
export function expectToolSuccess(answer: Posted, what: string): void {
  let message: { result?: { isError?: boolean } } | undefined;
  try {
    message = JSON.parse(answer.body) as typeof message;
  } catch {
    // reported below
  }
  if (answer.status !== 200 || !message?.result || message.result.isError) {
    throw new Error(`${what}: HTTP ${answer.status}: ${answer.body.slice(0, 300)}`);
  }
}

/** An SSE stream whose events each carry `t`, the upstream's `process.hrtime` at the write. */
export interface TimedStream {
  /** Resolves with the next event's crossing time in µs (arrival minus `t`). */
  next(timeoutMs?: number): Promise<number>;
  close(): void;
}

export function openTimedStream(
  target: Target,
  headers: Record<string, string>,
): Promise<TimedStream> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port: target.port,
      path: target.path,
      method: 'GET',
      headers: { ...headers, host: target.host, accept: 'text/event-stream' },
      agent: false,
    });
    req.on('error', reject);
    req.on('response', (res: IncomingMessage) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`GET ${target.path} via ${target.host}: HTTP ${res.statusCode}`));
        return;
      }
      res.socket.setNoDelay(true);
      const crossed: number[] = [];
      let waiter: ((us: number) => void) | undefined;
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (text: string) => {
        const arrived = process.hrtime.bigint();
        buffer += text;
        const blocks = buffer.split('\n\n');
        buffer = blocks.pop() ?? '';
        for (const block of blocks) {
          const t = /^data: \{"t":"(\d+)"\}$/m.exec(block)?.[1];
          if (t === undefined) continue;
          crossed.push(Number(arrived - BigInt(t)) / 1000);
        }
        const wake = waiter;
        if (wake && crossed.length > 0) {
          waiter = undefined;
          wake(crossed.shift()!);
        }
      });
      resolve({
        next(timeoutMs = 5000) {
          const ready = crossed.shift();
          if (ready !== undefined) return Promise.resolve(ready);
          return new Promise((done, fail) => {
            const timer = setTimeout(() => {
              waiter = undefined;
              fail(new Error(`no event via ${target.host}${target.path} in ${timeoutMs} ms`));
            }, timeoutMs);
            waiter = (us) => {
              clearTimeout(timer);
              done(us);
            };
          });
        },
        close: () => req.destroy(),
      });
    });
    req.end();
  });
}
