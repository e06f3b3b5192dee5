/**
 * What `portcullis gateway` loads (issue 13: its resident memory at start is mostly the code it
 * loads). The servers host's modules (the MCP SDK, the Notion client, the servers) belong to
 * `portcullis servers` and `dev`: the gateway process never imports them. The ACME client is
 * loaded only with `autocert` (test/autocert.test.ts runs a gateway with it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashPassword } from '../src/core/crypto.js';
import { spawnGateway } from './support/gateway-process.js';
import { freePort, gatewayYamlHead } from './support/gateway.js';
import { fromRoot } from './support/paths.js';

const HOOK = fromRoot('test/support/module-log-register.mjs');

/** Starts the gateway on `yaml`, stops it once it listens, returns every module it resolved. */
async function modulesLoaded(yaml: string): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-modules-'));
  const log = join(dir, 'modules.txt');
  try {
    const gateway = await spawnGateway(yaml, {
      NODE_OPTIONS: `--import ${HOOK}`,
      PORTCULLIS_TEST_MODULE_LOG: log,
    });
    await gateway.stop();
    return readFileSync(log, 'utf8').split('\n').filter(Boolean);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('the gateway, with MCP routes and the built-in provider, loads neither the servers host nor the ACME client', async () => {
  const port = await freePort();
  const origin = `http://localhost:${port}`;
  const yaml = `${gatewayYamlHead(port)}
databroker_storage_type: memory
builtin_users:
  - { email: ana@example.com, password_hash: '${await hashPassword('modules test password')}' }
routes:
  - from: ${origin}
    path: /mcp
    to: http://127.0.0.1:9/mcp
    allow_public_unauthenticated_access: true
    mcp: { server: {} }
`;
  const loaded = await modulesLoaded(yaml);
  // The hook saw the gateway's own modules: an empty list would prove nothing.
  assert.ok(
    loaded.some((url) => url.endsWith('/dist/src/http/gateway.js')),
    loaded.join('\n'),
  );
  const servers = loaded.filter(
    (url) =>
      url.includes('/node_modules/@modelcontextprotocol/sdk/') ||
      url.includes('/node_modules/@notionhq/client/') ||
      url.includes('/dist/src/servers/'),
  );
  assert.deepEqual(servers, []);
  const acme = loaded.filter(
    (url) => url.includes('/node_modules/acme-client/') || url.endsWith('/dist/src/tls/acme.js'),
  );
  assert.deepEqual(acme, []);
});
