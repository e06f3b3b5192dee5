import { ConfigError } from '../core/errors.js';

/** A segment of the path to a value in the config document: a map key or a list index. */
export type PathSegment = string | number;
export type Path = readonly PathSegment[];

/**
 * One finding about a configuration. `line` is 1-based; for a value taken from the environment
 * `envVar` names the variable and `line` is 0.
 */
export interface ConfigIssue {
  readonly severity: 'error' | 'warning';
  readonly file: string;
  readonly line: number;
  readonly key: string;
  readonly message: string;
  readonly envVar?: string;
}

/** Where a value came from: what an issue about it points at (a file line, or a variable). */
export type IssueLocation = Omit<ConfigIssue, 'severity' | 'message'>;

/** `routes[0].mcp.server.path` for `['routes', 0, 'mcp', 'server', 'path']`. */
export function dottedKey(path: Path): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? seg : `.${seg}`;
  }
  return out === '' ? '(document)' : out;
}

/** `FILE:LINE key: message`, or `VARIABLE (environment) key: message`. */
export function formatIssue(issue: ConfigIssue): string {
  const where =
    issue.envVar !== undefined
      ? `${issue.envVar} (environment) ${issue.key}`
      : `${issue.file}:${issue.line} ${issue.key}`;
  return `${where}: ${issue.message}`;
}

/** Thrown when a config has errors; carries every issue found (warnings too), in file order. */
export class ConfigValidationError extends ConfigError {
  readonly issues: readonly ConfigIssue[];
  constructor(file: string, issues: readonly ConfigIssue[]) {
    const errors = issues.filter((i) => i.severity === 'error');
    super(file, `${errors.length} error(s)\n${errors.map(formatIssue).join('\n')}`);
    this.issues = issues;
    this.name = 'ConfigValidationError';
  }
}

/** Collects issues for one file; `lineOf` maps a path to the line it sits on. */
export class IssueSink {
  readonly issues: ConfigIssue[] = [];
  constructor(
    readonly file: string,
    private readonly lineOf: (path: Path) => number,
    private readonly envSources: ReadonlyMap<string, string> = new Map(),
  ) {}

  /** `near`: where to point when `path` is missing from the file (the key that needs it). */
  error(path: Path, message: string, near?: Path): void {
    this.add('error', path, message, near);
  }

  warn(path: Path, message: string, near?: Path): void {
    this.add('warning', path, message, near);
  }

  get hasErrors(): boolean {
    return this.issues.some((i) => i.severity === 'error');
  }

  /**
   * Where `path` is, for an issue found later (a certificate file read at start): an issue
   * made from it reads like one found now.
   */
  locate(path: Path, near?: Path): IssueLocation {
    const key = dottedKey(path);
    const at = near ?? path;
    const envVar = typeof at[0] === 'string' ? this.envSources.get(at[0]) : undefined;
    return envVar !== undefined
      ? { file: this.file, line: 0, key, envVar }
      : { file: this.file, line: this.lineOf(at), key };
  }

  private add(severity: ConfigIssue['severity'], path: Path, message: string, near?: Path): void {
    this.issues.push({ severity, ...this.locate(path, near), message });
  }
}
