/**
 * Runs the MCP conformance suite's authorization-server scenarios
 * (`conformance authorization --url <issuer> …`) and plays the person it waits for: the suite
 * prints an authorization URL; `visit` signs in and consents, and the redirect it ends at is
 * requested so the suite's own callback server receives the code.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { readChecks, type ConformanceRun } from './conformance.js';
import { fromRoot, repoRoot } from './paths.js';

const SUITE = fromRoot('node_modules/@modelcontextprotocol/conformance/dist/index.js');
const FS_GLOB_HOOK = fromRoot('test/support/fs-glob-register.mjs');

export interface AuthorizationRunOptions {
  /** The issuer, exactly as in the authorization server metadata. */
  readonly issuer: string;
  readonly clientId: string;
  readonly resource: string;
  /** The suite's callback port (`http://127.0.0.1:<port>/callback` must be registered). */
  readonly port: number;
  /** One scenario; all authorization-server scenarios when omitted. */
  readonly scenario?: string;
  /** Plays the browser for an authorization URL; returns where the gateway sent it. */
  readonly visit: (authorizationUrl: URL) => Promise<URL>;
  readonly timeoutMs?: number;
}

export interface AuthorizationRun extends ConformanceRun {
  /** The authorization URLs the suite printed. */
  readonly authorizationUrls: readonly URL[];
}

export async function runAuthorizationScenarios(
  options: AuthorizationRunOptions,
): Promise<AuthorizationRun> {
  const outDir = await mkdtemp(join(tmpdir(), 'portcullis-conformance-auth-'));
  const args = [
    '--import',
    FS_GLOB_HOOK,
    SUITE,
    'authorization',
    '--url',
    options.issuer,
    '--client-id',
    options.clientId,
    '--resource',
    options.resource,
    '--port',
    String(options.port),
    '--output-dir',
    outDir,
    ...(options.scenario ? ['--scenario', options.scenario] : []),
  ];
  try {
    const child = spawn(process.execPath, args, {
      cwd: repoRoot,
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const authorizationUrls: URL[] = [];
    const visits: Promise<void>[] = [];
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    createInterface({ input: child.stdout }).on('line', (line) => {
      output += `${line}\n`;
      const text = line.trim();
      if (!text.startsWith(`${options.issuer}/`) || !text.includes('response_type=code')) return;
      const url = new URL(text);
      authorizationUrls.push(url);
      visits.push(
        options
          .visit(url)
          .then(async (location) => {
            // The suite's callback server must see the redirect: deliver it as the browser would.
            const res = await fetch(location, { redirect: 'manual' });
            await res.arrayBuffer();
          })
          .catch((err: unknown) => {
            output += `\n[test] visiting the authorization URL failed: ${String(err)}\n`;
            child.kill('SIGTERM');
          }),
      );
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    const exitCode = await new Promise<number>((resolve) =>
      child.once('exit', (code) => resolve(code ?? -1)),
    );
    clearTimeout(timer);
    await Promise.all(visits);
    return { exitCode, checks: await readChecks(outDir), output, authorizationUrls };
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}
