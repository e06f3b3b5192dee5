/**
 * Closed-loop HTTP load with Debian's `wrk` (REFERENCE §9): fixed concurrency, keep-alive, a
 * Lua script for the POST body. Node-based load generators share the machine's two cores
 * with the server under test far less economically.
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const WRK_INSTALL_HINT = 'apt-get install -y wrk   (Debian/Ubuntu; needs root or sudo)';

export function hasWrk(): boolean {
  return spawnSync('wrk', ['--version'], { stdio: 'ignore' }).error === undefined;
}

export interface PostScript {
  readonly path: string;
  remove(): void;
}

/** Writes a wrk Lua script that POSTs `body` with `headers` on every request. */
export function writePostScript(body: string, headers: Record<string, string>): PostScript {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-bench-'));
  const path = join(dir, 'post.lua');
  const lines = [
    'wrk.method = "POST"',
    `wrk.body = ${luaString(body)}`,
    ...Object.entries(headers).map(([k, v]) => `wrk.headers[ ${luaString(k)} ] = ${luaString(v)}`),
  ];
  writeFileSync(path, lines.join('\n') + '\n');
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A Lua long string cannot be broken out of by its content when the level is chosen freely. */
function luaString(text: string): string {
  let level = '';
  while (text.includes(`]${level}]`)) level += '=';
  return `[${level}[${text}]${level}]`;
}

export interface WrkOptions {
  readonly url: string;
  readonly script: string;
  readonly threads: number;
  readonly connections: number;
  readonly durationS: number;
}

export interface WrkResult {
  readonly requests: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Non-2xx/3xx responses plus socket errors; a trustworthy run has none. */
  readonly failures: number;
  /** wrk's own CPU (user + system), in clock ticks. */
  readonly wrkTicks: number;
  readonly raw: string;
}

/** Runs wrk to completion. */
export function runWrk(o: WrkOptions): Promise<WrkResult> {
  // The shell waits for wrk, then prints its own /proc stat: cutime + cstime there are wrk's CPU.
  const shell = 'wrk "$@"; code=$?; echo "@@stat $(cat /proc/$$/stat)"; exit $code';
  const args = [
    '-c',
    shell,
    'sh',
    `-t${o.threads}`,
    `-c${o.connections}`,
    `-d${o.durationS}s`,
    '--latency',
    '-s',
    o.script,
    o.url,
  ];
  return new Promise((done, fail) => {
    execFile('/bin/sh', args, { timeout: (o.durationS + 30) * 1000 }, (err, stdout, stderr) => {
      if (err) {
        fail(new Error(`wrk failed: ${err.message}\n${stdout}\n${stderr}`));
        return;
      }
      try {
        done(parseWrk(stdout));
      } catch (parseErr) {
        fail(parseErr as Error);
      }
    });
  });
}

function parseWrk(out: string): WrkResult {
  const requests = /(\d+) requests in/.exec(out);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const p50 = /^\s+50%\s+([\d.]+)(us|ms|s)\b/m.exec(out);
  const p99 = /^\s+99%\s+([\d.]+)(us|ms|s)\b/m.exec(out);
  const stat = /@@stat (.*)$/m.exec(out);
  if (!requests || !rps || !p50 || !p99 || !stat) {
    throw new Error(`cannot read wrk's output:\n${out}`);
  }
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  const statLine = stat[1]!;
  const fields = statLine.slice(statLine.lastIndexOf(')') + 2).split(' ');
  return {
    requests: Number(requests[1]),
    rps: Number(rps[1]),
    p50Ms: toMs(p50[1]!, p50[2]!),
    p99Ms: toMs(p99[1]!, p99[2]!),
    failures: non2xx + socketErrors,
    wrkTicks: Number(fields[13] ?? 0) + Number(fields[14] ?? 0),
    raw: out,
  };
}

function toMs(value: string, unit: string): number {
  const n = Number(value);
  return unit === 'us' ? n / 1000 : unit === 's' ? n * 1000 : n;
}
