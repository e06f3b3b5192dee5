import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromRoot, repoRoot } from './paths.js';

const SUITE = fromRoot('node_modules/@modelcontextprotocol/conformance/dist/index.js');
// Node 20 has no fs.globSync, which the suite imports; this hook supplies it (see the file).
const FS_GLOB_HOOK = fromRoot('test/support/fs-glob-register.mjs');

/** One check as the suite writes it to `checks.json`. */
export interface ConformanceCheck {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly status: 'SUCCESS' | 'FAILURE' | 'WARNING' | 'INFO' | 'SKIPPED' | string;
  readonly errorMessage?: string;
}

export interface ConformanceRun {
  readonly exitCode: number;
  readonly checks: readonly ConformanceCheck[];
  /** The suite's own report (stdout and stderr), for failure messages. */
  readonly output: string;
}

/**
 * Runs `conformance server --url <url> --scenario <scenario>` from the official MCP
 * conformance suite and returns its exit code and the checks from its `checks.json`.
 */
export async function runConformanceScenario(
  url: string,
  scenario: string,
  timeoutMs = 20_000,
): Promise<ConformanceRun> {
  const outDir = await mkdtemp(join(tmpdir(), 'portcullis-conformance-'));
  try {
    const { exitCode, output } = await new Promise<{ exitCode: number; output: string }>(
      (resolve) => {
        execFile(
          process.execPath,
          [
            '--import',
            FS_GLOB_HOOK,
            SUITE,
            'server',
            '--url',
            url,
            '--scenario',
            scenario,
            '--output-dir',
            outDir,
            '--timeout',
            String(timeoutMs),
          ],
          { cwd: repoRoot, env: { ...process.env, NO_COLOR: '1' }, timeout: timeoutMs + 5_000 },
          (error, stdout, stderr) => {
            const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
            resolve({ exitCode: code, output: `${stdout}${stderr}` });
          },
        );
      },
    );
    return { exitCode, checks: await readChecks(outDir), output };
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}

/** The checks of every `checks.json` under `dir` (the suite writes one per scenario). */
export async function readChecks(dir: string): Promise<ConformanceCheck[]> {
  const checks: ConformanceCheck[] = [];
  for (const entry of await readdir(dir, { recursive: true })) {
    if (entry === 'checks.json' || entry.endsWith('/checks.json')) {
      checks.push(...(JSON.parse(await readFile(join(dir, entry), 'utf8')) as ConformanceCheck[]));
    }
  }
  return checks;
}

/**
 * Why a run does not pass, or undefined when it does: the suite must exit 0, report at least
 * one SUCCESS, and no FAILURE (nor WARNING unless allowed).
 */
export function conformanceProblems(
  run: ConformanceRun,
  options: { allowWarnings?: boolean } = {},
): string | undefined {
  const bad = run.checks.filter(
    (c) => c.status === 'FAILURE' || (!options.allowWarnings && c.status === 'WARNING'),
  );
  if (run.exitCode === 0 && bad.length === 0 && run.checks.some((c) => c.status === 'SUCCESS')) {
    return undefined;
  }
  const lines = bad.map((c) => `${c.status} ${c.id}: ${c.errorMessage ?? c.description}`);
  if (run.checks.length === 0) lines.push('no checks.json was written');
  return `conformance exit code ${run.exitCode}\n${lines.join('\n')}\n--- suite output ---\n${run.output}`;
}
