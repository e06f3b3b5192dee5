import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { parseConfig } from '../config/load.js';
import type { Config } from '../config/types.js';
import { randomId } from '../core/crypto.js';
import { startGateway, type GatewayOptions } from '../http/gateway.js';
import { seedDevUser } from '../idp/dev-user.js';
import { startServersHost } from '../servers/host.js';
import { defaultServerFactories } from '../servers/registry.js';
import { prepareDemoDatabase } from '../servers/sqlite/demo.js';
import { intFromEnv, type Env } from '../core/env.js';
import type { Lifetimes } from '../oauth/provider.js';
import {
  notionMcpYaml,
  notionOAuthFromEnv,
  upstreamCallbackUrl,
  type NotionOAuthSettings,
} from './dev-notion.js';

/** What only tests set: `npm start` itself takes everything from the environment. */
export interface DevSystemOptions {
  /** OAuth token lifetimes in seconds (e.g. a short access token to make clients refresh). */
  readonly lifetimes?: Partial<Lifetimes>;
  /** The upstream-token vault's clock (tests bring upstream tokens due without waiting). */
  readonly upstream?: GatewayOptions['upstream'];
}

export interface DevSystem {
  /** The gateway's public base URL, e.g. `http://localhost:8080`. */
  readonly url: string;
  readonly mcpUrls: readonly string[];
  /** The example app behind its `mcp.client` route (undefined: not in this checkout). */
  readonly appUrl: string | undefined;
  /** The servers host the gateway fronts (loopback, ephemeral port). */
  readonly serversUrl: string;
  /** The redirect URI to register at Notion, when `/notion` is on (NOTION_CLIENT_ID/SECRET). */
  readonly notionCallbackUrl: string | null;
  readonly user: { readonly email: string; readonly generatedPassword: string | null };
  close(): Promise<void>;
}

/**
 * `npm start`: the whole system on one machine with embedded defaults — the servers host on an
 * ephemeral loopback port, the gateway in front of it on `PORT` (default 8080) with the built-in
 * identity provider, SQLite storage and secrets in `PORTCULLIS_DATA_DIR` (default `./data`).
 */
export async function startDevSystem(
  env: Env,
  logger: Logger,
  options: DevSystemOptions = {},
): Promise<DevSystem> {
  const dataDir = resolve(env.PORTCULLIS_DATA_DIR ?? 'data');
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const secrets = devSecrets(dataDir);
  const requested = intFromEnv(env, 'PORT', 8080, 0);
  const port = requested === 0 ? await freePort() : requested;
  const origin = `http://localhost:${port}`;
  const notion = notionOAuthFromEnv(env);

  const backends = await startBackends(env, dataDir, port, logger, notion);
  try {
    const config = devConfig(port, dataDir, secrets, backends.routes(origin));
    const gateway = await startGateway({
      config,
      logger,
      // Ready means ready: no 200 from /healthz, and no sign-in, before the user exists.
      holdReadiness: true,
      ...(options.lifetimes && { oauth: { lifetimes: options.lifetimes } }),
      ...(options.upstream && { upstream: options.upstream }),
    });
    let user;
    try {
      user = await seedDevUser({ storage: gateway.storage, env: env as NodeJS.ProcessEnv });
    } catch (err) {
      await gateway.close();
      throw err;
    }
    gateway.markReady();
    return {
      url: origin,
      mcpUrls: config.routes.flatMap((r) => (r.mcp?.kind === 'server' ? [r.mcp.resourceUrl] : [])),
      appUrl: backends.appUrl ? `${origin}${APP_PATH}` : undefined,
      serversUrl: backends.serversUrl,
      notionCallbackUrl: backends.notionOn ? upstreamCallbackUrl(origin) : null,
      user,
      close: async () => {
        await gateway.close();
        await backends.close();
      },
    };
  } catch (err) {
    await backends.close();
    throw err;
  }
}

/** Where `npm start` serves the example app (`examples/client-app`), behind `mcp.client`. */
const APP_PATH = '/app';

/** What the gateway fronts: the servers host and the example app, both on loopback. */
async function startBackends(
  env: Env,
  dataDir: string,
  port: number,
  logger: Logger,
  notion: NotionOAuthSettings | undefined,
) {
  const servers = await startDevServers(env, dataDir, port, logger);
  // /notion needs Notion OAuth credentials (upstream tokens): on only with them.
  const names = servers.servers.filter((name) => name !== 'notion' || notion !== undefined);
  let app: ExampleApp | undefined;
  try {
    app = await startExampleApp(logger);
  } catch (err) {
    await servers.close();
    throw err;
  }
  return {
    serversUrl: servers.url,
    appUrl: app?.url,
    notionOn: names.includes('notion'),
    routes: (origin: string) => [
      ...names.map((name) => devRoute(origin, servers.url, name, notion)),
      ...(app ? [appRoute(origin, app.url)] : []),
    ],
    close: async () => {
      await app?.close();
      await servers.close();
    },
  };
}

interface ExampleApp {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * The example app, in this process on an ephemeral loopback port. It is plain JavaScript
 * beside the package (`examples/`), loaded from the checkout: absent, `/app` is left out.
 */
async function startExampleApp(logger: Logger): Promise<ExampleApp | undefined> {
  // dist/src/cli/dev.js (the build) or src/cli/dev.ts (a TypeScript loader).
  const file = ['../../../', '../../']
    .map((up) => new URL(`${up}examples/client-app/app.mjs`, import.meta.url))
    .find((url) => existsSync(fileURLToPath(url)));
  if (file === undefined) {
    logger.warn('examples/client-app is not here: npm start serves no example app at /app');
    return undefined;
  }
  const { startClientApp } = (await import(file.href)) as {
    startClientApp(options: { host: string; basePath: string }): Promise<ExampleApp>;
  };
  return startClientApp({ host: '127.0.0.1', basePath: APP_PATH });
}

function appRoute(origin: string, appUrl: string): string {
  return [
    `  - from: ${origin}`,
    `    prefix: ${APP_PATH}`,
    `    to: ${appUrl}`,
    '    name: Example app',
    '    allow_any_authenticated_user: true',
    '    mcp:',
    '      client: {}',
  ].join('\n');
}

/** The servers host on an ephemeral loopback port, trusting the gateway on `port`. */
function startDevServers(env: Env, dataDir: string, port: number, logger: Logger) {
  return startServersHost(
    {
      env: {
        ...env,
        PORT: '0',
        HOST: '127.0.0.1',
        // The gateway reaches the host by this name, and signs assertions for `localhost`.
        ALLOWED_HOSTS: '127.0.0.1',
        SQLITE_DB_FILE: env.SQLITE_DB_FILE ?? prepareDemoDatabase(dataDir, logger),
        ASSERTION_ISSUERS: 'localhost',
        // The gateway signs each assertion for its route's host (src/http/identity.ts): one
        // made for another audience is refused.
        ASSERTION_AUDIENCE: 'localhost',
        ASSERTION_JWKS_URL: `http://127.0.0.1:${port}/.well-known/pomerium/jwks.json`,
      },
      logger,
    },
    defaultServerFactories,
  );
}

/**
 * The gateway's configuration. Its `address` is PORT's: a port that cannot be bound (taken,
 * privileged) is reported as the variable's error, the one thing the user set.
 */
function devConfig(
  port: number,
  dataDir: string,
  secrets: ReturnType<typeof devSecrets>,
  routes: readonly string[],
): Config {
  const source = '(portcullis dev)';
  const { config } = parseConfig(devConfigYaml(port, dataDir, secrets, routes), source, {});
  return { ...config, addressAt: { file: source, line: 0, key: 'address', envVar: 'PORT' } };
}

function devConfigYaml(
  port: number,
  dataDir: string,
  secrets: ReturnType<typeof devSecrets>,
  routes: readonly string[],
): string {
  return [
    `address: 127.0.0.1:${port}`,
    'insecure_server: true',
    `shared_secret: ${secrets.shared_secret}`,
    `cookie_secret: ${secrets.cookie_secret}`,
    'idp_provider: builtin',
    'databroker_storage_type: sqlite',
    `databroker_storage_connection_string: ${JSON.stringify(join(dataDir, 'portcullis.db'))}`,
    'routes:',
    ...routes,
  ].join('\n');
}

function devRoute(
  origin: string,
  serversUrl: string,
  name: string,
  notion: NotionOAuthSettings | undefined,
): string {
  const lines = [
    `  - from: ${origin}`,
    `    path: /${name}`,
    `    to: ${serversUrl}/${name}`,
    `    name: ${name}`,
    '    allow_any_authenticated_user: true',
  ];
  if (name === 'sqlite') {
    // The original's demonstration of tool-level policy: the update tool is denied.
    lines.push(
      '    description: Read-only SQL over the demo shop database (update is denied by policy)',
      '    policy:',
      '      - deny:',
      '          or:',
      '            - mcp_tool:',
      '                is: update',
    );
  } else if (name === 'whoami') {
    lines.push('    description: Who the gateway says you are');
  }
  if (name === 'notion' && notion) lines.push(...notionMcpYaml(notion));
  else lines.push('    mcp:', '      server: {}');
  return lines.join('\n');
}

interface DevSecrets {
  shared_secret: string;
  cookie_secret: string;
}

/** Secrets kept in the data directory, so sessions and stored keys survive restarts. */
function devSecrets(dataDir: string): DevSecrets {
  const file = join(dataDir, 'secrets.json');
  if (existsSync(file)) {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<DevSecrets>;
    if (parsed.shared_secret && parsed.cookie_secret) return parsed as DevSecrets;
  }
  const secrets = { shared_secret: randomId(32), cookie_secret: randomId(32) };
  writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return secrets;
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolvePort(port));
    });
  });
}
