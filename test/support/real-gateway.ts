/**
 * The gateway in front of the real servers host (`/whoami`, `/sqlite`), configured from YAML
 * like a deployment, for end-to-end OAuth tests that need settings `npm start` does not take
 * (`mcp_allowed_client_id_domains`, the in-process CIMD fetch options). Either in this process
 * (`startRealGateway`) or as the shipped CLI in a process of its own (`spawnRealGateway`), which
 * is the only way to give it a test CA through `NODE_EXTRA_CA_CERTS`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseConfig } from '../../src/config/load.js';
import { hashPassword } from '../../src/core/crypto.js';
import { startGateway, type GatewayOptions } from '../../src/http/gateway.js';
import type { ServersHost } from '../../src/servers/host.js';
import { createSqliteServer } from '../../src/servers/sqlite/server.js';
import { createWhoamiServer } from '../../src/servers/whoami/server.js';
import { makeDataDir } from '../sqlite-fixture.js';
import { CookieJar } from './cookie-jar.js';
import { captureLogs, freePort, TEST_COOKIE_SECRET, TEST_SHARED_SECRET } from './gateway.js';
import { startTestHost } from './host.js';
import { fromRoot, repoRoot } from './paths.js';

export const REAL_EMAIL = 'lin@example.com';
export const REAL_PASSWORD = 'real gateway test password';
export const REAL_NAME = 'Lin';

export interface RealGateway {
  /** `http://localhost:<port>`: the issuer and the MCP host. */
  readonly origin: string;
  /** A browser for `authorizeInBrowser` (not signed in yet). */
  readonly jar: CookieJar;
  /** The gateway's log lines (in-process only; the spawned one's stdout otherwise). */
  logText(): string;
  close(): Promise<void>;
}

async function gatewayYaml(port: number, host: ServersHost, extraYaml: string): Promise<string> {
  const origin = `http://localhost:${port}`;
  const route = (name: string) => [
    `  - from: ${origin}`,
    `    path: /${name}`,
    `    to: ${host.url}/${name}`,
    `    name: ${name}`,
    '    pass_identity_headers: true',
    '    allow_any_authenticated_user: true',
    '    mcp: { server: {} }',
  ];
  return [
    `address: 127.0.0.1:${port}`,
    'insecure_server: true',
    `shared_secret: ${TEST_SHARED_SECRET}`,
    `cookie_secret: ${TEST_COOKIE_SECRET}`,
    'idp_provider: builtin',
    'databroker_storage_type: memory',
    'builtin_users:',
    `  - { email: ${REAL_EMAIL}, name: ${REAL_NAME}, groups: [staff], password_hash: '${await hashPassword(REAL_PASSWORD)}' }`,
    extraYaml,
    'routes:',
    ...route('whoami'),
    ...route('sqlite'),
  ].join('\n');
}

/** The servers host, trusting assertions signed by the gateway on `port` for `localhost`. */
function startHostFor(port: number): Promise<ServersHost> {
  return startTestHost([createWhoamiServer, createSqliteServer], {
    ALLOWED_HOSTS: '127.0.0.1',
    SQLITE_DB_FILE: makeDataDir(10).file,
    ASSERTION_ISSUERS: 'localhost',
    ASSERTION_JWKS_URL: `http://127.0.0.1:${port}/.well-known/pomerium/jwks.json`,
  });
}

export async function startRealGateway(
  extraYaml: string,
  oauth: GatewayOptions['oauth'] = {},
): Promise<RealGateway> {
  const port = await freePort();
  const host = await startHostFor(port);
  try {
    const { config } = parseConfig(await gatewayYaml(port, host, extraYaml), 'real.yaml', {});
    const logs = captureLogs();
    const gateway = await startGateway({ config, logger: logs.logger, oauth });
    return {
      origin: `http://localhost:${port}`,
      jar: new CookieJar(),
      logText: () => logs.text(),
      close: async () => {
        await gateway.close();
        await host.close();
      },
    };
  } catch (err) {
    await host.close();
    throw err;
  }
}

/** `node bin/portcullis.js gateway --config FILE` with `env` added to a minimal environment. */
export async function spawnRealGateway(
  extraYaml: string,
  env: Record<string, string>,
  timeoutMs = 15_000,
): Promise<RealGateway> {
  const port = await freePort();
  const host = await startHostFor(port);
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-real-gateway-'));
  const file = join(dir, 'gateway.yaml');
  writeFileSync(file, await gatewayYaml(port, host, extraYaml), { mode: 0o600 });
  const cleanup = async () => {
    await host.close();
    rmSync(dir, { recursive: true, force: true });
  };
  let cli: GatewayCli;
  try {
    cli = await spawnGatewayCli(file, env, timeoutMs);
  } catch (err) {
    await cleanup();
    throw err;
  }
  return {
    origin: `http://localhost:${port}`,
    jar: new CookieJar(),
    logText: () => cli.output(),
    close: async () => {
      await cli.stop();
      await cleanup();
    },
  };
}

export interface GatewayCli {
  readonly child: ChildProcess;
  /** Everything the process printed so far (stdout and stderr). */
  output(): string;
  /** Resolves once the process has exited (with its signal, when killed by one). */
  readonly exited: Promise<{ signal: NodeJS.Signals | null }>;
  /** Sends `signal` (default SIGTERM) unless the process has exited, and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<{ signal: NodeJS.Signals | null }>;
}

/** Processes started and not yet exited: killed if this process exits without stopping them. */
const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/**
 * Runs the shipped CLI, `node bin/portcullis.js gateway --config FILE`, with `env` added to a
 * minimal environment, and waits for its "gateway listening" line (it accepts connections
 * before it can answer them). On failure the process is stopped.
 */
export async function spawnGatewayCli(
  file: string,
  env: Record<string, string>,
  timeoutMs = 15_000,
): Promise<GatewayCli> {
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
