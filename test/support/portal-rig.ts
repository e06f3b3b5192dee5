/**
 * A gateway for the portal's tests: two users, three MCP servers on one host (Notes needs an
 * upstream token from `upstream-provider.ts` and checks it by introspection; Open needs none;
 * Private is Bob's only) and, on another host, a plain site whose route serves `/`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import { hashPassword } from '../../src/core/crypto.js';
import { startGateway, type Gateway } from '../../src/http/gateway.js';
import { captureLogs, freePort, gatewayYamlHead, type LogCapture } from './gateway.js';
import { startRecordingMcpServer, type RecordingMcpServer } from './recording-mcp-server.js';
import { startTokenCheckingServer, type TokenCheckingServer } from './token-checking-server.js';
import { startUpstreamProvider, type UpstreamProvider } from './upstream-provider.js';

export const PORTAL_PASSWORD = 'portal test password';
export const ALICE = 'alice@example.com';
export const BOB = 'bob@example.com';

export interface PortalRig {
  /** `http://localhost:<port>`: the MCP servers' host. */
  readonly origin: string;
  /** `http://site.localhost:<port>`: a host whose route serves `/`. */
  readonly siteOrigin: string;
  readonly provider: UpstreamProvider;
  readonly notes: TokenCheckingServer;
  readonly plain: RecordingMcpServer;
  readonly gateway: Gateway;
  readonly logs: LogCapture;
  url(path: string): string;
  close(): Promise<void>;
}

export async function startPortalRig(dirPrefix: string): Promise<PortalRig> {
  const port = await freePort();
  const origin = `http://localhost:${port}`;
  const siteOrigin = `http://site.localhost:${port}`;
  const provider = await startUpstreamProvider({
    redirectUris: [`${origin}/.pomerium/mcp/client/oauth/callback`],
    accessTokenTtl: 120,
  });
  const notes = await startTokenCheckingServer((t) => provider.introspect(t));
  const plain = await startRecordingMcpServer();
  const site = await startSite();
  const dir = mkdtempSync(join(tmpdir(), dirPrefix));
  const hash = await hashPassword(PORTAL_PASSWORD);
  const yaml = `
${gatewayYamlHead(port)}
databroker_storage_type: sqlite
databroker_storage_connection_string: ${join(dir, 'gateway.db')}
builtin_users:
  - { email: ${ALICE}, name: Alice, password_hash: '${hash}' }
  - { email: ${BOB}, name: Bob, password_hash: '${hash}' }
routes:
  - from: ${origin}
    prefix: /notes
    to: ${notes.url}
    name: Notes
    description: Your notes at the upstream service
    allow_any_authenticated_user: true
    mcp:
      server:
        upstream_oauth2:
          client_id: ${provider.clientId}
          client_secret: ${provider.clientSecret}
          scopes: [read]
          endpoint:
            auth_url: ${provider.authUrl}
            token_url: ${provider.tokenUrl}
            revocation_url: ${provider.issuer}/token/revocation
  - from: ${origin}
    prefix: /open
    to: ${plain.url}
    name: Open
    allow_any_authenticated_user: true
    mcp: { server: {} }
  - from: ${origin}
    prefix: /private
    to: ${plain.url}
    name: Private
    policy: [{ allow: { and: [{ email: { is: ${BOB} } }] } }]
    mcp: { server: {} }
  - from: ${siteOrigin}
    to: ${site.url}
    allow_public_unauthenticated_access: true
`;
  const { config } = parseConfig(yaml, 'portal-test.yaml', {});
  const logs = captureLogs();
  const gateway = await startGateway({ config, logger: logs.logger });
  return {
    origin,
    siteOrigin,
    provider,
    notes,
    plain,
    gateway,
    logs,
    url: (path) => `${origin}${path}`,
    async close() {
      await gateway.close();
      await Promise.all([site.close(), plain.close(), notes.close()]);
      await provider.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A site that answers every request itself, so a test sees what reached it. */
async function startSite(): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('the site itself');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
