/**
 * The gateway in front of the real servers host (`/whoami`, `/sqlite`), configured from YAML
 * like a deployment, for end-to-end OAuth tests that need settings `npm start` does not take
 * (`mcp_allowed_client_id_domains`, the in-process CIMD fetch options). Either in this process
 * (`startRealGateway`) or as the shipped CLI in a process of its own (`spawnRealGateway`), which
 * is the only way to give it a test CA through `NODE_EXTRA_CA_CERTS`.
 */
import { parseConfig } from '../../src/config/load.js';
import { hashPassword } from '../../src/core/crypto.js';
import { startGateway, type GatewayOptions } from '../../src/http/gateway.js';
import type { ServersHost } from '../../src/servers/host.js';
import { createSqliteServer } from '../../src/servers/sqlite/server.js';
import { createWhoamiServer } from '../../src/servers/whoami/server.js';
import { makeDataDir } from '../sqlite-fixture.js';
import { CookieJar } from './cookie-jar.js';
import { captureLogs, freePort, TEST_COOKIE_SECRET, TEST_SHARED_SECRET } from './gateway.js';
import { spawnGateway } from './gateway-process.js';
import { startTestHost } from './host.js';

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

export function startRealGateway(
  extraYaml: string,
  oauth: GatewayOptions['oauth'] = {},
): Promise<RealGateway> {
  return inFrontOfHost(extraYaml, async (yaml) => {
    const { config } = parseConfig(yaml, 'real.yaml', {});
    const logs = captureLogs();
    const gateway = await startGateway({ config, logger: logs.logger, oauth });
    return { logText: () => logs.text(), close: () => gateway.close() };
  });
}

/** `node bin/portcullis.js gateway --config FILE` with `env` added to a minimal environment. */
export function spawnRealGateway(
  extraYaml: string,
  env: Record<string, string>,
  timeoutMs = 15_000,
): Promise<RealGateway> {
  return inFrontOfHost(extraYaml, async (yaml) => {
    const gateway = await spawnGateway(yaml, env, timeoutMs);
    return { logText: () => gateway.output(), close: async () => void (await gateway.stop()) };
  });
}

/** The servers host, then a gateway in front of it started by `start`; closed together. */
async function inFrontOfHost(
  extraYaml: string,
  start: (yaml: string) => Promise<Pick<RealGateway, 'logText' | 'close'>>,
): Promise<RealGateway> {
  const port = await freePort();
  const host = await startHostFor(port);
  try {
    const gateway = await start(await gatewayYaml(port, host, extraYaml));
    return {
      origin: `http://localhost:${port}`,
      jar: new CookieJar(),
      logText: () => gateway.logText(),
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
