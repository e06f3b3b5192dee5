import { execFile } from 'node:child_process';
import { fromRoot } from './paths.js';

const INSPECTOR_BUILD = fromRoot('node_modules/@modelcontextprotocol/inspector-cli/build');

export interface InspectorCall {
  /** `tools/list`, `tools/call`, … (the CLI's `--method`). */
  readonly method: string;
  readonly toolName?: string;
  /** Tool arguments; each is passed as `--tool-arg key=<JSON>` (the CLI parses JSON values). */
  readonly toolArgs?: Record<string, unknown>;
  /** HTTP headers, passed as `--header "Name: value"`. */
  readonly headers?: Record<string, string>;
}

export interface InspectorRun {
  readonly exitCode: number;
  /** The JSON the CLI printed on stdout, when it printed JSON. */
  readonly result: unknown;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs the MCP Inspector CLI (`@modelcontextprotocol/inspector-cli`, `--cli` mode, Streamable
 * HTTP) once against `url`.
 */
export function runInspector(
  url: string,
  call: InspectorCall,
  timeoutMs = 15_000,
): Promise<InspectorRun> {
  const args = ['cli.js', '--cli', url, '--transport', 'http', '--method', call.method];
  if (call.toolName !== undefined) args.push('--tool-name', call.toolName);
  for (const [key, value] of Object.entries(call.toolArgs ?? {})) {
    args.push('--tool-arg', `${key}=${JSON.stringify(value)}`);
  }
  for (const [name, value] of Object.entries(call.headers ?? {})) {
    args.push('--header', `${name}: ${value}`);
  }
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      args,
      // The CLI looks for its package.json relative to the working directory (`../package.json`),
      // so it only starts from inside its own build folder.
      { cwd: INSPECTOR_BUILD, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const exitCode = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        let result: unknown;
        try {
          result = JSON.parse(stdout);
        } catch {
          result = undefined;
        }
        resolve({ exitCode, result, stdout, stderr });
      },
    );
  });
}
