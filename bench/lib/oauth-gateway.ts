/**
 * The shipped gateway (`bin/portcullis.js gateway --config FILE`) for the OAuth bench, as a
 * process of its own: memory storage, the built-in provider with one user whose password the
 * bench knows (it plays the whole authorization flow), and two MCP routes to the same upstream:
 * `/bearer` (any signed-in user: an OAuth token is validated on every request) and `/public`
 * (`allow_public_unauthenticated_access`: no validation).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashPassword } from '../../src/core/crypto.js';
import { procTimes } from './proc.js';
import { ROOT, freePort, startService, type Service } from './spawn.js';

export const BENCH_OAUTH_EMAIL = 'oauth-bench@example.com';

export interface OAuthGateway {
  readonly service: Service;
  readonly port: number;
  /** `http://localhost:<port>`: issuer and MCP host. */
  readonly origin: string;
  readonly password: string;
  stop(): Promise<void>;
}

export async function startOAuthGateway(upstreamUrl: string): Promise<OAuthGateway> {
  const port = await freePort();
  const origin = `http://localhost:${port}`;
  const password = randomBytes(12).toString('base64url');
  const secret = () => randomBytes(32).toString('base64');
  const route = (path: string, access: string) => [
    `  - from: ${origin}`,
    `    path: ${path}`,
    `    to: ${upstreamUrl}`,
    `    ${access}: true`,
    '    mcp: { server: {} }',
  ];
  const yaml = [
    `address: 127.0.0.1:${port}`,
    'insecure_server: true',
    `shared_secret: ${secret()}`,
    `cookie_secret: ${secret()}`,
    'databroker_storage_type: memory',
    'idp_provider: builtin',
    'builtin_users:',
    `  - { email: ${BENCH_OAUTH_EMAIL}, name: Bench, password_hash: '${await hashPassword(password)}' }`,
    'routes:',
    ...route('/bearer', 'allow_any_authenticated_user'),
    ...route('/public', 'allow_public_unauthenticated_access'),
  ].join('\n');
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-bench-oauth-'));
  const file = join(dir, 'gateway.yaml');
  writeFileSync(file, yaml + '\n', { mode: 0o600 });
  let service: Service | undefined;
  try {
    // warn: the per-request decision lines (info) would cost both routes alike and blur the
    // difference being measured.
    service = await startService(
      'oauth-gateway',
      [join(ROOT, 'bin/portcullis.js'), 'gateway', '--config', file],
      { LOG_LEVEL: 'warn' },
      port,
    );
    await untilIdle(service.pid);
  } catch (err) {
    await service?.stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    service,
    port,
    origin,
    password,
    async stop() {
      await service.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The port accepts before the gateway can answer (a request then kills it), and at level warn
 * it prints nothing when ready: wait for its CPU to stay idle for 300 ms.
 */
async function untilIdle(pid: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  let idleSince = Date.now();
  let ticks = procTimes(pid)?.self ?? 0;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    const now = procTimes(pid)?.self ?? 0;
    if (now !== ticks) idleSince = Date.now();
    ticks = now;
    if (Date.now() - idleSince >= 300) return;
  }
  throw new Error('the gateway did not finish starting');
}
