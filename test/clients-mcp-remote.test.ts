/**
 * mcp-remote (the stdio-to-remote proxy many desktop MCP hosts run, a package nobody here
 * wrote) against the system of `npm start`: spawned as a child like a host would spawn it,
 * spoken to in JSON-RPC on its stdin/stdout; it meets the 401, registers, opens "the browser"
 * (handed to Chromium here), takes the code on its own callback port, then serves tools and,
 * once its access token has expired, refreshes it without a new authorization.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  assertRefreshedWithoutBrowser,
  startClientRig,
  toolNames,
  type ClientRig,
} from './support/client-rig.js';
import { freePort } from './support/gateway.js';
import { firstText } from './support/mcp-client.js';
import { fromRoot } from './support/paths.js';
import { spawnStdioPeer, type JsonRpcAnswer, type StdioPeer } from './support/stdio-peer.js';

const PROXY = fromRoot('node_modules/mcp-remote/dist/proxy.js');

/** The result of an answer that must not be an error. */
function resultOf(answer: JsonRpcAnswer, peer: StdioPeer): Record<string, unknown> {
  assert.ok(
    answer.result,
    `JSON-RPC error ${JSON.stringify(answer.error)}; stderr:\n${peer.stderr()}`,
  );
  return answer.result;
}

describe('mcp-remote through the gateway of npm start', () => {
  let rig: ClientRig;
  let peer: StdioPeer | undefined;

  before(async () => {
    rig = await startClientRig('mcp-remote');
  });
  after(async () => {
    await peer?.close();
    await rig?.close();
  });

  it('authorizes in Chromium, lists and calls tools, refreshes after the token expires', async () => {
    const callbackPort = await freePort();
    const env = rig.handoff.env({
      ...process.env,
      MCP_REMOTE_CONFIG_DIR: rig.tempDir('mcp-remote'),
    });
    const proxy = spawnStdioPeer(
      process.execPath,
      [PROXY, `${rig.system.url}/sqlite`, String(callbackPort)],
      env,
    );
    peer = proxy;
    // A host sends initialize at once; the proxy answers it once authorization is done.
    const initialized = proxy.request('initialize', {
      protocolVersion: '2025-06-18',
      capabilities: {},
      clientInfo: { name: 'portcullis-mcp-remote-test', version: '0.0.0' },
    });
    const consent = await rig.approve(await rig.handoff.nextUrl());
    assert.equal(consent.landed.origin, `http://localhost:${callbackPort}`, 'its own callback');
    assert.ok(consent.landed.searchParams.get('code'));
    assert.match(consent.consentText, /MCP CLI Proxy/, 'the consent page names the client');

    const init = resultOf(await initialized, proxy);
    assert.equal((init.serverInfo as { name?: string }).name, 'portcullis-sqlite');
    proxy.notify('notifications/initialized');

    const names = toolNames(resultOf(await proxy.request('tools/list', {}), proxy));
    assert.ok(names.includes('read_query'), names.join());
    assert.equal(names.includes('update'), false, 'the denied tool is not listed');
    const call = (query: string) =>
      proxy
        .request('tools/call', { name: 'read_query', arguments: { query } })
        .then((answer) => firstText(resultOf(answer, proxy)));
    assert.match(await call('SELECT count(*) AS n FROM products'), /"n":\s*\d+/);

    await rig.outliveAccessTokens();
    const mark = rig.log.entries.length;
    assert.match(await call('SELECT 7 AS seven'), /"seven":\s*7/);
    assertRefreshedWithoutBrowser(rig.log, mark);
  });
});
