/**
 * An app behind the gateway's `mcp.client` route (client mode), in plain Node: no framework,
 * no LLM. It shows the three things such an app does:
 *
 *   1. it lists the user's MCP servers with `GET /.pomerium/mcp/routes`, presenting the token
 *      the gateway put in `Authorization: Bearer` of the request it is answering;
 *   2. it links to `/.pomerium/mcp/connect?redirect_url=…` for a server whose upstream service
 *      (Notion, GitHub…) the user has not connected yet, and gets the user back here;
 *   3. it calls a tool on one of those servers with the same token, through the gateway, with
 *      the MCP SDK's client and a static bearer header: exactly what an LLM API given the token
 *      as a server's `authorization` does.
 *
 * The token is short-lived (5 minutes) and arrives fresh with every request: the app keeps
 * nothing. It sends the token only to servers the gateway listed, never to a URL a request
 * names, so a crafted link cannot make it hand the token elsewhere.
 *
 * Run it behind the gateway: `node examples/client-app/app.mjs` (PORT, default 3000; HOST,
 * default 127.0.0.1; BASE_PATH when the route serves it under a path), with a route such as
 *
 *   - from: https://app.example.com
 *     to: http://127.0.0.1:3000
 *     allow_any_authenticated_user: true
 *     mcp: { client: {} }
 *
 * `npm start` serves it at http://localhost:8080/app.
 */
/* global fetch, URLSearchParams, Buffer */
import { createServer } from 'node:http';
import { pathToFileURL } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

/**
 * @typedef {object} ServerEntry  One entry of `/.pomerium/mcp/routes`.
 * @property {string} name
 * @property {string} [description]
 * @property {string} url
 * @property {boolean} connected
 * @property {boolean} needs_oauth
 * @property {string} [token_expires_at]
 *
 * @typedef {object} AppOptions
 * @property {number} [port]  0 (default): any free port.
 * @property {string} [host]  Default 127.0.0.1: only the gateway should reach the app.
 * @property {string} [basePath]  The path the gateway serves the app under (`/app`), or ''.
 * @property {string} [gatewayUrl]  Where `/.pomerium/mcp/routes` is asked; default: the app's
 *   own public origin (the gateway answers it on every host).
 * @property {(token: string) => void} [onToken]  Told each request's token (tests).
 */

/**
 * Starts the app.
 * @param {AppOptions} [options]
 * @returns {Promise<{ url: string, close(): Promise<void> }>}
 */
export async function startClientApp(options = {}) {
  const server = createServer((req, res) => {
    handle(req, res, options).catch((err) => {
      if (!res.headersSent) send(res, 500, page('Error', `<p>${escape(String(err))}</p>`));
      else res.destroy();
    });
  });
  await new Promise((resolve) =>
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve),
  );
  const address = /** @type {import('node:net').AddressInfo} */ (server.address());
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${address.port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve(undefined));
      }),
  };
}

/**
 * @param {import('node:http').IncomingMessage} req
 * @param {import('node:http').ServerResponse} res
 * @param {AppOptions} options
 */
async function handle(req, res, options) {
  const base = options.basePath ?? '';
  const token = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
  if (token === undefined) {
    const message = 'This app runs behind the gateway: open it through its mcp.client route.';
    return send(res, 401, page('No token', `<p>${escape(message)}</p>`));
  }
  options.onToken?.(token);
  // The gateway tells the app where the browser sent the request (X-Forwarded-*); only the
  // gateway can reach the app, which listens on loopback.
  const publicUrl = new URL(
    `${req.headers['x-forwarded-proto'] ?? 'http'}://${req.headers['x-forwarded-host'] ?? req.headers.host}${base}/`,
  );
  const url = new URL(req.url ?? '/', publicUrl);
  const ctx = {
    token,
    publicUrl,
    gateway: options.gatewayUrl ?? publicUrl.origin,
    json: wantsJson(req),
  };
  if (req.method === 'GET' && url.pathname === '/') return home(res, ctx, url.searchParams);
  if (req.method === 'GET' && url.pathname === '/tools') return tools(res, ctx, url.searchParams);
  if (req.method === 'POST' && url.pathname === '/call') {
    // Another site's form must not make the app call tools as the user (CSRF).
    if (req.headers.origin !== undefined && req.headers.origin !== publicUrl.origin) {
      return reply(
        res,
        ctx,
        403,
        { error: 'foreign origin' },
        '<p>Refused: another site sent this.</p>',
      );
    }
    return call(res, ctx, await readParams(req));
  }
  return reply(res, ctx, 404, { error: 'not found' }, '<p>Not found.</p>');
}

/** @typedef {{ token: string, publicUrl: URL, gateway: string, json: boolean }} Ctx */

/**
 * The user's servers, as the gateway lists them for this token.
 * @param {Ctx} ctx
 * @returns {Promise<ServerEntry[]>}
 */
async function listServers(ctx) {
  const res = await fetch(new URL('/.pomerium/mcp/routes', ctx.gateway), {
    headers: { authorization: `Bearer ${ctx.token}`, accept: 'application/json' },
  });
  if (!res.ok) throw new Error(`the gateway answered ${res.status} to /.pomerium/mcp/routes`);
  return /** @type {{ servers: ServerEntry[] }} */ (await res.json()).servers;
}

/**
 * @param {import('node:http').ServerResponse} res
 * @param {Ctx} ctx
 * @param {URLSearchParams} params
 */
async function home(res, ctx, params) {
  const servers = await listServers(ctx);
  const failed = params.get('connect_error');
  const items = servers.map((s) => {
    const state = s.connected ? 'connected' : 'not connected';
    const action = s.connected
      ? `<a href="${escape(appLink(ctx, `tools?server=${encodeURIComponent(s.url)}`))}">Tools</a>`
      : `<a href="${escape(connectUrl(s, ctx.publicUrl))}">Connect</a>`;
    const expiry = s.token_expires_at ? ` (token until ${escape(s.token_expires_at)})` : '';
    return `<li><strong>${escape(s.name)}</strong> <code>${escape(s.url)}</code>: ${state}${expiry} ${action}</li>`;
  });
  const html =
    (failed ? `<p role="alert">Connecting failed: ${escape(failed)}</p>` : '') +
    `<ul>${items.join('')}</ul>`;
  reply(res, ctx, 200, { servers }, html, 'Your MCP servers');
}

/**
 * A link to one of the app's pages, absolute: the gateway may serve the app under a path, and
 * `/app` and `/app/` reach it alike, so a relative link would resolve differently on each.
 * @param {Ctx} ctx
 * @param {string} relative
 */
function appLink(ctx, relative) {
  return new URL(relative, ctx.publicUrl).href;
}

/**
 * `connect` on the server's own host, back to this app's page.
 * @param {ServerEntry} server
 * @param {URL} publicUrl
 */
function connectUrl(server, publicUrl) {
  const connect = new URL('/.pomerium/mcp/connect', server.url);
  connect.search = new URLSearchParams({
    redirect_url: publicUrl.href,
    route: server.url,
  }).toString();
  return connect.href;
}

/**
 * The server a request names, only when the gateway listed it for this user.
 * @param {Ctx} ctx
 * @param {string | null | undefined} url
 */
async function listedServer(ctx, url) {
  const servers = await listServers(ctx);
  return servers.find((s) => s.url === url);
}

/**
 * An MCP client for `server.url` that sends the token as a static bearer header.
 * @param {Ctx} ctx
 * @param {ServerEntry} server
 */
async function connectMcp(ctx, server) {
  const client = new Client({ name: 'portcullis-example-app', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(server.url), {
    requestInit: { headers: { authorization: `Bearer ${ctx.token}` } },
  });
  await client.connect(transport);
  return client;
}

/**
 * A server the gateway did not list for this user: the app calls only what it was given.
 * @param {import('node:http').ServerResponse} res
 * @param {Ctx} ctx
 */
function notYours(res, ctx) {
  return reply(
    res,
    ctx,
    400,
    { error: 'not one of your servers' },
    '<p>Not one of your servers.</p>',
  );
}

/**
 * @param {import('node:http').ServerResponse} res
 * @param {Ctx} ctx
 * @param {URLSearchParams} params
 */
async function tools(res, ctx, params) {
  const server = await listedServer(ctx, params.get('server'));
  if (!server) return notYours(res, ctx);
  await withMcp(res, ctx, server, async (client) => {
    const { tools: list } = await client.listTools();
    const forms = list.map(
      (t) =>
        `<form method="post" action="${escape(appLink(ctx, 'call'))}"><h2>${escape(t.name)}</h2><p>${escape(t.description ?? '')}</p>` +
        `<input type="hidden" name="server" value="${escape(server.url)}">` +
        `<input type="hidden" name="tool" value="${escape(t.name)}">` +
        `<label>Arguments (JSON) <textarea name="arguments">{}</textarea></label> <button>Call</button></form>`,
    );
    const body = { tools: list.map((t) => ({ name: t.name, description: t.description })) };
    reply(res, ctx, 200, body, forms.join(''), server.name);
  });
}

/**
 * @param {import('node:http').ServerResponse} res
 * @param {Ctx} ctx
 * @param {Record<string, unknown>} params  `server`, `tool`, `arguments` (an object or JSON text)
 */
async function call(res, ctx, params) {
  const server = await listedServer(
    ctx,
    typeof params.server === 'string' ? params.server : undefined,
  );
  if (!server) return notYours(res, ctx);
  let args = params.arguments ?? {};
  try {
    if (typeof args === 'string') args = JSON.parse(args === '' ? '{}' : args);
  } catch {
    return reply(
      res,
      ctx,
      400,
      { error: 'arguments are not JSON' },
      '<p>Arguments are not JSON.</p>',
    );
  }
  await withMcp(res, ctx, server, async (client) => {
    const result = await client.callTool({
      name: String(params.tool),
      arguments: /** @type {Record<string, unknown>} */ (args),
    });
    const text = (result.content ?? [])
      .map((/** @type {{ type: string, text?: string }} */ c) =>
        c.type === 'text' ? c.text : `[${c.type}]`,
      )
      .join('\n');
    const back = `<p><a href="${escape(ctx.publicUrl.href)}">Back</a></p>`;
    const title = `${server.name}: ${String(params.tool)}`;
    reply(res, ctx, 200, { result }, `<pre>${escape(text)}</pre>${back}`, title);
  });
}

/**
 * Runs `use` with an MCP client of `server`. A failure (the gateway refused the token, the
 * server is not connected or failed) is answered 502 with what the SDK said.
 * @param {import('node:http').ServerResponse} res
 * @param {Ctx} ctx
 * @param {ServerEntry} server
 * @param {(client: Client) => Promise<void>} use
 */
async function withMcp(res, ctx, server, use) {
  /** @type {Client | undefined} */
  let client;
  try {
    client = await connectMcp(ctx, server);
    await use(client);
  } catch (err) {
    reply(res, ctx, 502, { error: String(err) }, `<p>The call failed: ${escape(String(err))}</p>`);
  } finally {
    await client?.close();
  }
}

/**
 * A form or JSON body, at most 64 KiB.
 * @param {import('node:http').IncomingMessage} req
 * @returns {Promise<Record<string, unknown>>}
 */
async function readParams(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 65536) throw new Error('body too large');
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if ((req.headers['content-type'] ?? '').startsWith('application/json')) return JSON.parse(text);
  return Object.fromEntries(new URLSearchParams(text));
}

/** @param {import('node:http').IncomingMessage} req */
function wantsJson(req) {
  const accept = req.headers.accept ?? '';
  return accept.includes('application/json') && !accept.includes('text/html');
}

/**
 * @param {import('node:http').ServerResponse} res
 * @param {Ctx} ctx
 * @param {number} status
 * @param {unknown} json
 * @param {string} html
 * @param {string} [title]
 */
function reply(res, ctx, status, json, html, title = 'Example app') {
  if (ctx.json) {
    const body = JSON.stringify(json);
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
    return;
  }
  send(res, status, page(title, html));
}

/**
 * @param {string} title
 * @param {string} body  HTML, already escaped where it must be
 */
function page(title, body) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title></head><body><h1>${escape(title)}</h1>${body}</body></html>`;
}

/**
 * @param {import('node:http').ServerResponse} res
 * @param {number} status
 * @param {string} html
 */
function send(res, status, html) {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(html),
    // Nothing runs, loads or frames; forms post to the app only.
    'content-security-policy':
      "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    'cache-control': 'no-store',
  });
  res.end(html);
}

/** @param {string} text */
function escape(text) {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const app = await startClientApp({
    port: Number(process.env.PORT ?? 3000),
    host: process.env.HOST ?? '127.0.0.1',
    basePath: process.env.BASE_PATH ?? '',
  });
  console.log(`example app listening on ${app.url}`);
}
