/**
 * `node bin/portcullis.js gateway --config FILE` in a process of its own: for tests that need
 * what only the shipped CLI does (its environment, its signal handling, a process to kill).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fromRoot, repoRoot } from './paths.js';

export interface GatewayProcess {
  readonly child: ChildProcess;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** Resolves once the process has exited (with its signal, when killed by one). */
  readonly exited: Promise<{ signal: NodeJS.Signals | null }>;
  /** Sends `signal` (default SIGTERM: it drains and exits) unless it exited; waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<{ signal: NodeJS.Signals | null }>;
}

/** Processes started and not yet exited: killed if this process exits without stopping them. */
const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/** Starts it on the config `yaml` (a file of its own, removed at stop). */
export async function spawnGateway(
  yaml: string,
  env: Record<string, string>,
  timeoutMs = 15_000,
): Promise<GatewayProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-gateway-'));
  const file = join(dir, 'gateway.yaml');
  writeFileSync(file, yaml, { mode: 0o600 });
  const remove = () => rmSync(dir, { recursive: true, force: true });
  let started: GatewayProcess;
  try {
    started = await spawnGatewayFile(file, env, timeoutMs);
  } catch (err) {
    remove();
    throw err;
  }
  return {
    ...started,
    async stop(signal) {
      const exit = await started.stop(signal);
      remove();
      return exit;
    },
  };
}

/**
 * Starts it on the config in `file` with `env` added to a minimal environment, and waits for
 * its "gateway listening" line (it accepts connections before it can answer them). On failure
 * the process is killed.
 */
export async function spawnGatewayFile(
  file: string,
  env: Record<string, string>,
  timeoutMs = 15_000,
): Promise<GatewayProcess> {
  const child = spawn(
    process.execPath,
    [fromRoot('bin/portcullis.js'), 'gateway', '--config', file],
    {
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.add(child);
  let output = '';
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<{ signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (_code, signal) => {
      children.delete(child);
      resolve({ signal });
    }),
  );
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`gateway did not start: ${output}`)),
        timeoutMs,
      );
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`gateway exited: ${output}`));
      });
      createInterface({ input: child.stdout }).on('line', (line) => {
        output += `${line}\n`;
        if (line.includes('"msg":"gateway listening"')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  } catch (err) {
    await stop('SIGKILL');
    throw err;
  }
  return { child, output: () => output, exited, stop };
}
