import type { Env } from '../core/env.js';
import { formatIssue, ConfigValidationError, type ConfigIssue } from './issues.js';
import { analyzeConfig, readConfigText } from './load.js';

export interface CheckOutput {
  out(line: string): void;
  err(line: string): void;
}

const consoleOutput: CheckOutput = { out: console.log, err: console.error };

/** Exit codes: 0 valid (warnings allowed), 2 usage error, 78 (EX_CONFIG) invalid config. */
export const CHECK_USAGE = 'Usage: portcullis check --config FILE';

/**
 * `portcullis check --config FILE`: validates a gateway config and prints every error and
 * warning as `FILE:LINE key: message`. Reads the file and the environment only: it never
 * connects to storage or to the identity provider.
 */
export function runCheck(args: readonly string[], env: Env, io = consoleOutput): number {
  const file = configArg(args);
  if (file === undefined) {
    io.err(
      `portcullis check: expected --config FILE, got ${args.length ? args.join(' ') : 'nothing'}\n\n${CHECK_USAGE}`,
    );
    return 2;
  }
  let issues: readonly ConfigIssue[];
  let valid: boolean;
  try {
    const analysis = analyzeConfig(readConfigText(file), file, env);
    issues = analysis.issues;
    valid = analysis.config !== null;
  } catch (err) {
    if (!(err instanceof ConfigValidationError)) throw err;
    issues = err.issues;
    valid = false;
  }
  for (const issue of issues) {
    io.err(
      issue.severity === 'warning'
        ? formatIssue({ ...issue, message: `warning: ${issue.message}` })
        : formatIssue(issue),
    );
  }
  const errors = issues.filter((i) => i.severity === 'error').length;
  const warnings = issues.length - errors;
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  if (!valid) {
    io.err(`${file}: invalid: ${plural(errors, 'error')}, ${plural(warnings, 'warning')}`);
    return 78;
  }
  io.out(`${file}: valid (${plural(warnings, 'warning')})`);
  return 0;
}

function configArg(args: readonly string[]): string | undefined {
  const [first, second, ...rest] = args;
  if (rest.length > 0 || first === undefined) return undefined;
  if (first === '--config' && second) return second;
  if (first.startsWith('--config=') && second === undefined)
    return first.slice('--config='.length) || undefined;
  return undefined;
}
