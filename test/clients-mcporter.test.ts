/**
 * mcporter (an MCP CLI nobody here wrote) against the system of `npm start`, one process per
 * command as a person or a script runs it: `auth` meets the 401, registers, opens "the
 * browser" (handed to Chromium here) and keeps the tokens in its vault under $HOME; `list`
 * and `call` reuse them; a `call` after the access token expired refreshes it.
 *
 * mcporter 0.9.0 is the newest release whose engines admit Node 20 (0.10 and later ask for 24).
 * Its callback port is random unless `oauthRedirectUrl` fixes it, and a changed redirect URI
 * makes it drop its registration and register anew on the next 401, after which its refresh
 * token (bound to the old client) is refused; the fixed redirect keeps one registration.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  assertRefreshedWithoutBrowser,
  startClientRig,
  toolNames,
  type ClientRig,
} from './support/client-rig.js';
import { freePort } from './support/gateway.js';
import { fromRoot } from './support/paths.js';

const CLI = fromRoot('node_modules/mcporter/dist/cli.js');

interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

describe('mcporter through the gateway of npm start', () => {
  let rig: ClientRig;
  let home: string;
  let config: string;
  const running = new Set<ChildProcess>();

  before(async () => {
    rig = await startClientRig('mcporter');
    home = rig.tempDir('mcporter-home');
    config = join(home, 'mcporter.json');
    const redirect = `http://127.0.0.1:${await freePort()}/callback`;
    const server = {
      baseUrl: `${rig.system.url}/sqlite`,
      auth: 'oauth',
      oauthRedirectUrl: redirect,
    };
    writeFileSync(config, JSON.stringify({ mcpServers: { portcullis: server }, imports: [] }));
  });
  after(async () => {
    for (const child of running) child.kill('SIGKILL');
    await rig?.close();
  });

  /**
   * One mcporter command, its own process; HOME is a temporary directory (the vault). A command
   * that wants a browser nobody serves gives up after 30 s instead of mcporter's 60.
   */
  async function mcporter(...args: string[]): Promise<Ran> {
    const child = spawn(
      process.execPath,
      [CLI, ...args, '--config', config, '--oauth-timeout', '30000'],
      {
        cwd: home,
        env: rig.handoff.env({ ...process.env, HOME: home }),
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    running.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const [code] = (await once(child, 'exit')) as [number | null];
    running.delete(child);
    return { code, stdout, stderr };
  }

  function succeeded(ran: Ran): string {
    assert.equal(ran.code, 0, `mcporter exited ${ran.code}:\n${ran.stdout}\n${ran.stderr}`);
    return ran.stdout;
  }

  it('authorizes in Chromium, lists and calls tools, refreshes after the token expires', async () => {
    const auth = mcporter('auth', 'portcullis');
    const consent = await rig.approve(await rig.handoff.nextUrl());
    assert.ok(consent.landed.searchParams.get('code'));
    assert.match(consent.consentText, /mcporter \(portcullis\)/, 'the consent page names it');
    succeeded(await auth);

    const listed = JSON.parse(succeeded(await mcporter('list', 'portcullis', '--json'))) as unknown;
    const names = toolNames(listed);
    assert.ok(names.includes('read_query'), names.join());
    assert.equal(names.includes('update'), false, 'the denied tool is not listed');
    const call = (query: string) =>
      mcporter('call', 'portcullis.read_query', `query=${query}`, '--output', 'json').then(
        succeeded,
      );
    assert.match(await call('SELECT count(*) AS n FROM products'), /"n":\s*\d+/);

    await rig.outliveAccessTokens();
    const mark = rig.log.entries.length;
    assert.match(await call('SELECT 7 AS seven'), /"seven":\s*7/);
    assertRefreshedWithoutBrowser(rig.log, mark);
  });
});
