import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { mountProvider, type ProviderInput } from './mount.js';
import type { OidcProvider } from './provider-module.js';

interface Seen {
  readonly url: string | undefined;
  readonly originalUrl: string | undefined;
  readonly host: string | undefined;
  readonly port: string | string[] | undefined;
  readonly body: string;
}

/** A stand-in for oidc-provider's Koa callback: records what it is given and answers. */
function recordingProvider(seen: Seen[]): OidcProvider {
  return {
    on: () => undefined,
    onerror: () => undefined,
    callback: () => (req: IncomingMessage & { originalUrl?: string }, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({
          url: req.url,
          originalUrl: req.originalUrl,
          host: req.headers['x-forwarded-host'] as string | undefined,
          port: req.headers['x-forwarded-port'],
          body: Buffer.concat(chunks).toString(),
        });
        res.end('ok');
      });
    },
  } as unknown as OidcProvider;
}

async function serveOnce(
  prefix: string,
  path: string,
  input: (req: IncomingMessage) => Promise<ProviderInput>,
) {
  const seen: Seen[] = [];
  const mounted = mountProvider(recordingProvider(seen), prefix);
  let after: { url: string | undefined; host: unknown; port: unknown } | undefined;
  const server = createServer((req, res) => {
    void input(req)
      .then((given) => mounted(req, res, given))
      .then(() => {
        after = {
          url: req.url,
          host: req.headers['x-forwarded-host'],
          port: req.headers['x-forwarded-port'],
        };
      });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method: 'POST',
    headers: { 'x-forwarded-port': '8443' },
    body: 'grant_type=x',
  });
  assert.equal(await res.text(), 'ok');
  await new Promise((resolve) => setTimeout(resolve, 20));
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return { seen: seen[0], after };
}

test('the provider sees the given URL, headers and body; the request is given back as it came', async () => {
  const { seen, after } = await serveOnce('', '/token?q=1', async (req) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return {
      url: '/.pomerium/mcp/token?q=1',
      headers: { 'x-forwarded-host': 'mcp.example', 'x-forwarded-port': undefined },
      body: Buffer.concat(chunks),
    };
  });
  assert.deepEqual(seen, {
    url: '/.pomerium/mcp/token?q=1',
    originalUrl: '/.pomerium/mcp/token?q=1',
    host: 'mcp.example',
    port: undefined,
    body: 'grant_type=x',
  });
  assert.deepEqual(after, { url: '/token?q=1', host: undefined, port: '8443' });
});

test('under a prefix, the provider sees the path below it and reads the body itself', async () => {
  const { seen, after } = await serveOnce(
    '/.pomerium/idp',
    '/.pomerium/idp/token?q=1',
    async () => ({}),
  );
  assert.deepEqual(seen, {
    url: '/token?q=1',
    originalUrl: '/.pomerium/idp/token?q=1',
    host: undefined,
    port: '8443',
    body: 'grant_type=x',
  });
  assert.equal(after?.url, '/.pomerium/idp/token?q=1');
});
