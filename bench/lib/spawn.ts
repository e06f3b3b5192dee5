/**
 * Starting the processes under test and making sure none outlives the bench. Each service runs
 * in a process group of its own, so stopping it also stops whatever it spawned.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is compiled to dist/bench/lib/). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
/** Generated data and logs; gitignored. */
export const CACHE_DIR = resolve(ROOT, '.bench');
/** Compiled bench helpers that run as processes of their own. */
export const LIB_DIST = dirname(fileURLToPath(import.meta.url));

const live = new Set<ChildProcess>();

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Not a group leader (a plain child) or already gone.
    child.kill(signal);
  }
}

process.once('exit', () => {
  for (const child of live) killGroup(child, 'SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    for (const child of live) killGroup(child, 'SIGKILL');
    process.exit(130);
  });
}

export interface Service {
  readonly name: string;
  readonly pid: number;
  readonly url: string;
  readonly logFile: string;
  /** With `keepOutput`: the output so far (its start and its end); else undefined. */
  readonly output?: () => string;
  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves once the root has exited. */
  stop(graceMs?: number): Promise<void>;
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

/**
 * Runs `node <args>` as its own process group with the given environment (which must make it
 * listen on 127.0.0.1:`port`), and resolves once the port accepts connections.
 */
export function startService(
  name: string,
  args: readonly string[],
  env: Record<string, string>,
  port: number,
  options: CommandOptions = {},
): Promise<Service> {
  return startCommand(name, process.execPath, args, env, port, options);
}

export interface CommandOptions {
  /**
   * Read the output through a pipe and keep only its first 16 KiB and last `keepOutput` bytes,
   * written to the log file when the process exits. For processes that log every request: a
   * file growing by megabytes a second makes the kernel's writeback busy, which the bench would
   * count as other processes' CPU. A pipe is also how logs leave a service in production.
   */
  readonly keepOutput?: number;
}

const OUTPUT_HEAD_BYTES = 16 * 1024;

/**
 * Runs `command <args>` (e.g. nginx) like `startService`: its own process group, output to
 * `.bench/<name>.log`, resolved once 127.0.0.1:`port` accepts connections.
 */
export async function startCommand(
  name: string,
  command: string,
  args: readonly string[],
  env: Record<string, string>,
  port: number,
  options: CommandOptions = {},
): Promise<Service> {
  mkdirSync(CACHE_DIR, { recursive: true });
  const logFile = resolve(CACHE_DIR, `${name}.log`);
  const keep = options.keepOutput;
  const fd = openSync(logFile, 'w');
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    stdio: keep === undefined ? ['ignore', fd, fd] : ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  closeSync(fd);
  live.add(child);
  let output: (() => string) | undefined;
  if (keep !== undefined) {
    // Chunks kept as they come and trimmed in bulk: copying the tail on every chunk would cost
    // the bench more CPU than the service spends writing its log.
    let head = '';
    let tail: Buffer[] = [];
    let tailBytes = 0;
    const take = (chunk: Buffer) => {
      if (head.length < OUTPUT_HEAD_BYTES) {
        head += chunk.toString('utf8');
        return;
      }
      tail.push(chunk);
      tailBytes += chunk.length;
      if (tailBytes > 2 * keep) {
        const kept = Buffer.concat(tail).subarray(-keep);
        tail = [kept];
        tailBytes = kept.length;
      }
    };
    child.stdout?.on('data', take);
    child.stderr?.on('data', take);
    output = () => {
      if (tailBytes === 0) return head;
      return `${head}\n[…]\n${Buffer.concat(tail).subarray(-keep).toString('utf8')}`;
    };
  }
  // 'close' comes after the output pipes are drained, so the log file is complete.
  const exited = new Promise<void>((done) =>
    child.once('close', () => {
      if (output) writeFileSync(logFile, output());
      done();
    }),
  );
  void exited.then(() => live.delete(child));

  const service: Service = {
    name,
    pid: child.pid!,
    url: `http://127.0.0.1:${port}`,
    logFile,
    output,
    async stop(graceMs = 3000) {
      killGroup(child, 'SIGTERM');
      const timer = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
      // The root is gone; anything it left behind in its group goes too.
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // the group is empty
      }
    },
  };

  const deadline = Date.now() + 20_000;
  while (!(await accepts(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await service.stop(0);
      const log = readFileSync(logFile, 'utf8').slice(-2000);
      throw new Error(`${name} did not start listening on ${port}; its log (${logFile}):\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return service;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}

/**
 * Runs `node <args>` to completion and returns its stdout; rejects on a non-zero exit with
 * the end of its stderr.
 */
export function runNode(
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<string> {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-4000)));
  return new Promise((done, fail) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      if (code === 0) done(out);
      else fail(new Error(`node ${args.join(' ')} exited with ${code ?? signal}:\n${err}`));
    });
  });
}
