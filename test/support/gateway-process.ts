/**
 * `node bin/portcullis.js gateway --config FILE` in a process of its own, from YAML text: for
 * tests that need what only the shipped CLI does (its environment, its signal handling).
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
  /** SIGTERM (it drains and exits), then the config file is removed. */
  stop(): Promise<void>;
}

/** Starts it with `env` added to a minimal environment; resolves once it logs "listening". */
export async function spawnGateway(
  yaml: string,
  env: Record<string, string>,
  timeoutMs = 15_000,
): Promise<GatewayProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-gateway-'));
  const file = join(dir, 'gateway.yaml');
  writeFileSync(file, yaml, { mode: 0o600 });
  const child = spawn(
    process.execPath,
    [fromRoot('bin/portcullis.js'), 'gateway', '--config', file],
    {
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  const lines = createInterface({ input: child.stdout });
  try {
    // Requests must wait for "gateway listening": it accepts connections before it can answer.
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`gateway did not start: ${output}`)),
        timeoutMs,
      );
      void exited.then(() => reject(new Error(`gateway exited: ${output}`)));
      lines.on('line', (line) => {
        output += `${line}\n`;
        if (line.includes('"msg":"gateway listening"')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { child, output: () => output, stop };
}
