/**
 * The gateway as shipped (`bin/portcullis.js gateway --config FILE`), run as a process of its
 * own on 127.0.0.1 with a generated config: the built-in provider with one user, the routes the
 * bench asks for, all on `http://localhost:<port>`, and memory storage unless asked for SQLite
 * (a temporary file) and a metrics listener (production defaults).
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
  /**
   * Public: no sign-in and no identity assertion; authenticated: any signed-in user, with one;
   * policy: the `policy` rules decide.
   */
  readonly access: 'public' | 'authenticated' | 'policy';
  /** The route's `mcp` value as YAML flow text (default `{ server: {} }`). */
  readonly mcp?: string;
  /** With `access: 'policy'`: the rules, each as YAML flow text (`{ allow: … }`). */
  readonly policy?: readonly string[];
  /** `pass_identity_headers` (unset: the gateway's default, on for MCP routes). */
  readonly passIdentityHeaders?: boolean;
}

export interface GatewayOptions {
  readonly logLevel: string;
  /** Extra node options, e.g. `--cpu-prof`. */
  readonly nodeOptions?: readonly string[];
  /** The port to listen on (routes that name the gateway's own URL need it first). */
  readonly port?: number;
  /** The checkout whose built gateway runs (another one: a baseline to compare against). */
  readonly root?: string;
  /** `sqlite`: a file in the gateway's temporary directory (default `memory`). */
  readonly storage?: 'memory' | 'sqlite';
  /** A `metrics_address` on a free loopback port (default none). */
  readonly metrics?: boolean;
  /** `max_connections_per_address` (default: the gateway's, 256). */
  readonly maxConnectionsPerAddress?: number;
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
  /** The metrics listener's port, when it has one. */
  readonly metricsPort: number | undefined;
  /** Signs the bench user in and returns the `Cookie:` header value of the session. */
  signIn(): Promise<string>;
  stop(): Promise<void>;
}

const EMAIL = 'bench@example.com';

export async function startGatewayProcess(
  name: string,
  routes: readonly BenchRoute[],
  options: GatewayOptions,
): Promise<GatewayProcess> {
  const port = options.port ?? (await freePort());
  const metricsPort = options.metrics ? await freePort() : undefined;
  const origin = `http://localhost:${port}`;
  const password = randomBytes(12).toString('base64url');
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-bench-gateway-'));
  const secret = () => randomBytes(32).toString('base64');
  const yaml = [
    `address: 127.0.0.1:${port}`,
    'insecure_server: true',
    `shared_secret: ${secret()}`,
    `cookie_secret: ${secret()}`,
    ...(options.storage === 'sqlite'
      ? [
          'databroker_storage_type: sqlite',
          `databroker_storage_connection_string: ${JSON.stringify(join(dir, 'gateway.db'))}`,
        ]
      : ['databroker_storage_type: memory']),
    ...(metricsPort === undefined ? [] : [`metrics_address: 127.0.0.1:${metricsPort}`]),
    ...(options.maxConnectionsPerAddress === undefined
      ? []
      : [`max_connections_per_address: ${options.maxConnectionsPerAddress}`]),
    'idp_provider: builtin',
    'builtin_users:',
    `  - { email: ${EMAIL}, name: Bench, groups: [bench], password_hash: '${await hashPassword(password)}' }`,
    'routes:',
    ...routes.flatMap(routeYaml(origin)),
  ].join('\n');
  const file = join(dir, 'gateway.yaml');
  writeFileSync(file, yaml + '\n', { mode: 0o600 });
  let service: Service | undefined;
  try {
    service = await startService(
      name,
      [
        ...(options.nodeOptions ?? []),
        join(options.root ?? ROOT, 'bin/portcullis.js'),
        'gateway',
        '--config',
        file,
      ],
      { LOG_LEVEL: options.logLevel },
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
    metricsPort,
    signIn: () => signIn(port, origin, EMAIL, password),
    async stop() {
      await service.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const routeYaml = (origin: string) => (r: BenchRoute) => [
  `  - from: ${origin}`,
  `    path: ${r.path}`,
  `    to: ${r.to}`,
  ...(r.access === 'public' ? ['    allow_public_unauthenticated_access: true'] : []),
  ...(r.access === 'authenticated' ? ['    allow_any_authenticated_user: true'] : []),
  ...(r.policy ? ['    policy:', ...r.policy.map((rule) => `      - ${rule}`)] : []),
  ...(r.passIdentityHeaders === undefined
    ? []
    : [`    pass_identity_headers: ${r.passIdentityHeaders}`]),
  `    mcp: ${r.mcp ?? '{ server: {} }'}`,
];

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
