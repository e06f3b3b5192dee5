/**
 * A real ACME CA on loopback for the autocert tests: Debian's `pebble`, with
 * `pebble-challtestsrv` as the DNS server it resolves names through (every name is 127.0.0.1),
 * so HTTP-01 is validated for real against the gateway's `http_redirect_addr` (REFERENCE §11).
 * Challenges are validated for real (no `PEBBLE_VA_ALWAYS_VALID`), without pebble's random
 * sleeps; nonces are never rejected at random.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './gateway.js';
import { createTestCa, type TestCa } from './test-ca.js';

export interface Pebble {
  /** `https://127.0.0.1:<port>/dir`. */
  readonly directoryUrl: string;
  /** The CA of pebble's own HTTPS listener (what `autocert_trusted_ca_file` names). */
  readonly httpsCaFile: string;
  /** The root that pebble's certificates chain to, PEM (from its management `/roots/0`). */
  readonly rootPem: string;
  /** What pebble has written (one line per request and per validation). */
  log(): string;
  stop(): Promise<void>;
}

export interface PebbleOptions {
  /** Where pebble fetches HTTP-01 challenges: the gateway's `http_redirect_addr` port. */
  readonly httpPort: number;
  /** Lifetime of the certificates it issues (pebble's `certificateValidityPeriod`). */
  readonly validitySeconds?: number;
  readonly env?: Record<string, string>;
}

export async function startPebble(options: PebbleOptions): Promise<Pebble> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-pebble-'));
  const ca = createTestCa();
  const children: ChildProcess[] = [];
  const log: Log = { text: '' };
  const stop = async () => {
    for (const child of children.reverse()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
    ca.remove();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const dns = await freePort();
    const dnsLog = { text: '' };
    children.push(await startDns(dns, await freePort(), dnsLog));
    const [listen, management] = [await freePort(), await freePort()];
    const config = join(dir, 'pebble.json');
    writeFileSync(join(dir, 'cert.pem'), ca.certPem);
    writeFileSync(join(dir, 'key.pem'), ca.keyPem);
    writeFileSync(
      config,
      JSON.stringify({
        pebble: {
          listenAddress: `127.0.0.1:${listen}`,
          managementListenAddress: `127.0.0.1:${management}`,
          certificate: join(dir, 'cert.pem'),
          privateKey: join(dir, 'key.pem'),
          httpPort: options.httpPort,
          // TLS-ALPN-01 is never offered by the gateway; a port nobody listens on.
          tlsPort: await freePort(),
          ...(options.validitySeconds
            ? { certificateValidityPeriod: options.validitySeconds }
            : {}),
        },
      }),
    );
    const env = { PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0', ...options.env };
    const args = ['-config', config, '-dnsserver', `127.0.0.1:${dns}`];
    children.push(await startUntil('pebble', args, env, 'ACME directory available at', log));
    const rootPem = await fetchOnceListening(`https://127.0.0.1:${management}/roots/0`, ca);
    return {
      directoryUrl: `https://127.0.0.1:${listen}/dir`,
      httpsCaFile: ca.caFile,
      rootPem,
      log: () => log.text,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

function startDns(port: number, management: number, log: Log): Promise<ChildProcess> {
  const args = [
    ...['-defaultIPv4', '127.0.0.1', '-defaultIPv6', ''],
    ...['-dns01', `127.0.0.1:${port}`, '-http01', '', '-https01', '', '-tlsalpn01', ''],
    // Its management API is not used; on loopback all the same.
    ...['-management', `127.0.0.1:${management}`],
  ];
  return startUntil('pebble-challtestsrv', args, {}, 'Starting challenge servers', log);
}

interface Log {
  text: string;
}

/**
 * Starts `command` and resolves once its output has shown `ready`; rejects if it exits first.
 * Everything it writes is appended to `log`.
 */
function startUntil(
  command: string,
  args: readonly string[],
  env: Record<string, string>,
  ready: string,
  log: Log,
): Promise<ChildProcess> {
  const child = spawn(command, args, {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const start = log.text.length;
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      log.text += chunk.toString();
      if (log.text.slice(start).includes(ready)) resolve(child);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('error', reject);
    child.once('exit', (code) =>
      reject(new Error(`${command} exited (${code}):\n${log.text.slice(start)}`)),
    );
  });
}

/**
 * Pebble starts its management listener in a goroutine of its own, beside the line
 * `startUntil` waits for: on a loaded machine it may not accept yet, so a refused connection is
 * tried again, for a few seconds.
 */
async function fetchOnceListening(url: string, ca: TestCa): Promise<string> {
  const until = Date.now() + 10_000;
  for (;;) {
    try {
      return await fetchText(url, ca);
    } catch (err) {
      const refused = (err as NodeJS.ErrnoException).code === 'ECONNREFUSED';
      if (!refused || Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

function fetchText(url: string, ca: TestCa): Promise<string> {
  return new Promise((resolve, reject) => {
    get(url, { ca: ca.caPem }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () =>
        res.statusCode === 200 ? resolve(body) : reject(new Error(`${url}: ${res.statusCode}`)),
      );
    }).once('error', reject);
  });
}
