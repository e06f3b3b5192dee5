/**
 * The MCP host's side of a stdio MCP process (e.g. the mcp-remote proxy): newline-delimited
 * JSON-RPC on the child's stdin/stdout, stderr kept for assertion messages. Requests time out
 * rather than hang a test; `close()` ends stdin, then kills the child if it does not exit.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

export interface JsonRpcAnswer {
  readonly id: number;
  readonly result?: Record<string, unknown>;
  readonly error?: { code: number; message: string };
}

export interface StdioPeer {
  readonly child: ChildProcessWithoutNullStreams;
  request(method: string, params?: unknown, timeoutMs?: number): Promise<JsonRpcAnswer>;
  notify(method: string, params?: unknown): void;
  /** Everything the child wrote to stderr so far. */
  stderr(): string;
  close(): Promise<void>;
}

export function spawnStdioPeer(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): StdioPeer {
  const child = spawn(command, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let errText = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (errText += chunk));
  const waiting = new Map<number, (answer: JsonRpcAnswer) => void>();
  createInterface({ input: child.stdout }).on('line', (line) => {
    let message: JsonRpcAnswer;
    try {
      message = JSON.parse(line) as JsonRpcAnswer;
    } catch {
      return; // not a JSON-RPC line
    }
    waiting.get(message.id)?.(message);
    waiting.delete(message.id);
  });
  const exited = once(child, 'exit');
  let nextId = 1;
  const write = (message: object) => child.stdin.write(`${JSON.stringify(message)}\n`);

  return {
    child,
    request(method, params, timeoutMs = 30_000) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(id);
          reject(new Error(`${method} got no answer in ${timeoutMs} ms; stderr:\n${errText}`));
        }, timeoutMs);
        waiting.set(id, (answer) => {
          clearTimeout(timer);
          resolve(answer);
        });
        write({ jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) });
      });
    },
    notify: (method, params) =>
      write({ jsonrpc: '2.0', method, ...(params === undefined ? {} : { params }) }),
    stderr: () => errText,
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
      child.kill('SIGTERM');
      await exited;
      clearTimeout(timer);
    },
  };
}
