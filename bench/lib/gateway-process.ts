/**
 * The gateway as shipped (`bin/portcullis.js gateway --config FILE`), run as a process of its
 * own on 127.0.0.1 with a generated config: memory storage, the built-in provider with one
 * user, and the routes the bench asks for, all on `http://localhost:<port>`.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashPassword } from '../../src/core/crypto.js';
import { signIn } from './sign-in.js';
import { ROOT, freePort, startService, type Service } from './spawn.js';

export interface BenchRoute {
  /** Exact request path on the gateway (`path:`), e.g. `/mcp`. */
  readonly path: string;
  /** The upstream URL (`to:`). */
  readonly to: string;
  /** Public: no sign-in and no identity assertion; else any signed-in user, with one. */
  readonly access: 'public' | 'authenticated';
  /** The route's `mcp` value as YAML flow text (default `{ server: {} }`). */
  readonly mcp?: string;
}

export interface GatewayProcess {
  readonly service: Service;
  readonly port: number;
  /** `http://localhost:<port>`: the routes' `from`, issuer and MCP host. */
  readonly origin: string;
  /** The built-in provider's one user. */
  readonly email: string;
  readonly password: string;
  /** `localhost:<port>`: the Host header every request must carry for the routes to match. */
  readonly host: string;
  /** Signs the bench user in and returns the `Cookie:` header value of the session. */
  signIn(): Promise<string>;
  stop(): Promise<void>;
}

const EMAIL = 'bench@example.com';

export async function startGatewayProcess(
  name: string,
  routes: readonly BenchRoute[],
  logLevel: string,
  /** Extra node options, e.g. `--cpu-prof`. */
  nodeOptions: readonly string[] = [],
  /** The port to listen on (routes that name the gateway's own URL need it first). */
  givenPort?: number,
  /** The checkout whose built gateway runs (another one: a baseline to compare against). */
  root: string = ROOT,
): Promise<GatewayProcess> {
  const port = givenPort ?? (await freePort());
  const origin = `http://localhost:${port}`;
  const password = randomBytes(12).toString('base64url');
  const secret = () => randomBytes(32).toString('base64');
  const yaml = [
    `address: 127.0.0.1:${port}`,
    'insecure_server: true',
    `shared_secret: ${secret()}`,
    `cookie_secret: ${secret()}`,
    'databroker_storage_type: memory',
    'idp_provider: builtin',
    'builtin_users:',
    `  - { email: ${EMAIL}, name: Bench, groups: [bench], password_hash: '${await hashPassword(password)}' }`,
    'routes:',
    ...routes.flatMap((r) => [
      `  - from: ${origin}`,
      `    path: ${r.path}`,
      `    to: ${r.to}`,
      r.access === 'public'
        ? '    allow_public_unauthenticated_access: true'
        : '    allow_any_authenticated_user: true',
      `    mcp: ${r.mcp ?? '{ server: {} }'}`,
    ]),
  ].join('\n');
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-bench-gateway-'));
  const file = join(dir, 'gateway.yaml');
  writeFileSync(file, yaml + '\n', { mode: 0o600 });
  let service: Service | undefined;
  try {
    service = await startService(
      name,
      [...nodeOptions, join(root, 'bin/portcullis.js'), 'gateway', '--config', file],
      { LOG_LEVEL: logLevel },
      port,
      { keepOutput: 256 * 1024 },
    );
    await untilReady(port);
  } catch (err) {
    await service?.stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    service,
    port,
    origin,
    email: EMAIL,
    password,
    host: `localhost:${port}`,
    signIn: () => signIn(port, origin, EMAIL, password),
    async stop() {
      await service.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The gateway binds its port before it is built; `/readyz` answers 200 once it is. */
async function untilReady(port: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const status = await fetch(`http://127.0.0.1:${port}/readyz`).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the gateway did not become ready within 20 s');
}
