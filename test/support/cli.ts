import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fromRoot, repoRoot } from './paths.js';

export interface RunningCli {
  readonly child: ChildProcess;
  /** The URL from the `servers host listening` log line. */
  readonly url: string;
  /** Every pino JSON line printed so far. */
  readonly logs: Record<string, unknown>[];
  /** Resolves with the exit code (null when killed by a signal) and the signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Runs `node bin/portcullis.js <command>` on an ephemeral loopback port and waits for the
 * host's `servers host listening` log line. `env` adds to a minimal environment.
 */
export async function spawnCli(
  command: 'servers' | 'dev',
  env: Record<string, string> = {},
  timeoutMs = 10_000,
): Promise<RunningCli> {
  const child = spawn(process.execPath, [fromRoot('bin/portcullis.js'), command], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '', PORT: '0', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`portcullis ${command} did not start in ${timeoutMs} ms: ${stderr}`));
    }, timeoutMs);
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`portcullis ${command} exited (${code}) before listening: ${stderr}`));
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return; // not a log line (the dev banner)
      }
      logs.push(entry);
      if (entry.msg === 'servers host listening' && typeof entry.url === 'string') {
        clearTimeout(timer);
        resolve(entry.url);
      }
    });
  });
  return { child, url, logs, exited };
}
