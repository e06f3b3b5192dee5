/**
 * An MCP server (the SDK's, stateless Streamable HTTP) that needs an upstream token, as the
 * Notion or GitHub servers do: every request's `Authorization: Bearer` is checked by
 * introspection at the upstream provider, an inactive or missing one is answered 401, and the
 * tool `account` returns whose token it was. It records every Authorization header it saw.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';

export interface TokenCheckingServer {
  readonly url: string;
  /** Every Authorization header received, in order (undefined: none). */
  readonly authorizations: (string | undefined)[];
  /** Requests answered 401 because the token was not active. */
  readonly refused: number;
  close(): Promise<void>;
}

type Introspect = (
  token: string,
) => Promise<{ active: boolean; sub?: string; aud?: unknown; scope?: string }>;

export interface ProtectedResourceOptions {
  /** The MCP endpoint's path, e.g. `/mcp`: its URL is the protected resource. */
  readonly path: string;
  /** Its authorization server, published in RFC 9728 metadata (read at each request). */
  issuer: string;
}

/**
 * With `protectedResource`, the server is a remote MCP server with its own OAuth: it publishes
 * RFC 9728 metadata at the path-aware well-known URL and names it in every 401.
 */
export async function startTokenCheckingServer(
  introspect: Introspect,
  protectedResource?: ProtectedResourceOptions,
): Promise<TokenCheckingServer> {
  const authorizations: (string | undefined)[] = [];
  let refused = 0;
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500).end(String(err));
    });
  });

  let origin = '';
  const metadataPath = `/.well-known/oauth-protected-resource${protectedResource?.path ?? ''}`;
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (protectedResource && req.url === metadataPath) {
      const body = JSON.stringify({
        resource: `${origin}${protectedResource.path}`,
        authorization_servers: [protectedResource.issuer],
        scopes_supported: ['read'],
        bearer_methods_supported: ['header'],
      });
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
      return;
    }
    authorizations.push(req.headers.authorization);
    const token = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
    const found = token ? await introspect(token) : { active: false };
    if (!found.active) {
      refused++;
      const challenge = protectedResource
        ? `Bearer resource_metadata="${origin}${metadataPath}"`
        : 'Bearer error="invalid_token"';
      res.writeHead(401, { 'www-authenticate': challenge }).end();
      return;
    }
    const body = await readJson(req);
    // `write_note` needs the `write` scope: without it, RFC 6750's 403 naming what it needs.
    const call = body as { method?: string; params?: { name?: string } } | undefined;
    const scopes = String((found as { scope?: string }).scope ?? '').split(' ');
    if (
      call?.method === 'tools/call' &&
      call.params?.name === 'write_note' &&
      !scopes.includes('write')
    ) {
      const challenge = 'Bearer error="insufficient_scope", scope="read write"';
      res.writeHead(403, { 'www-authenticate': challenge }).end();
      return;
    }
    const mcp = new McpServer({ name: 'token-checking', version: '0.0.0' });
    mcp.registerTool('write_note', { description: 'Needs the write scope' }, async () => ({
      content: [{ type: 'text', text: 'written' }],
    }));
    mcp.registerTool('account', { description: 'Whose upstream token this is' }, async () => ({
      content: [
        {
          type: 'text',
          text: JSON.stringify({
            sub: found.sub,
            active: true,
            ...(found.aud === undefined ? {} : { aud: found.aud }),
          }),
        },
      ],
    }));
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    });
    res.on('close', () => {
      void transport.close();
      void mcp.close();
    });
    await mcp.connect(transport);
    await transport.handleRequest(req, res, body);
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: origin,
    authorizations,
    get refused() {
      return refused;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  if (req.method !== 'POST') return undefined;
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}
