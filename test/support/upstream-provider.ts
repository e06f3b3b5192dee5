/**
 * A real OAuth 2.0 provider (oidc-provider) standing in for an upstream service such as
 * Notion or GitHub: one confidential client (the gateway), short-lived opaque access tokens,
 * rotating refresh tokens, introspection (RFC 7662) and revocation (RFC 7009). Its sign-in page
 * takes an account name (the person's account at the service, not at the gateway) and can be
 * refused. Counters let tests prove how often the gateway refreshed.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { rootCertificates } from 'node:tls';
import { Agent, fetch as undiciFetch } from 'undici';
import {
  loadOidcProvider,
  type OidcProvider,
  type ProviderContext,
} from '../../src/oidc/provider-module.js';

export interface UpstreamProvider {
  readonly issuer: string;
  readonly authUrl: string;
  readonly tokenUrl: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly provider: OidcProvider;
  /** Successful refresh_token grants so far. */
  readonly refreshes: number;
  /** Refused token requests (e.g. a rotated refresh token used again). */
  readonly refusedRefreshes: number;
  /** Dynamic registrations so far. */
  readonly registrations: number;
  /** Authorization requests as received (their query). */
  readonly authorizations: URLSearchParams[];
  /** What the token endpoint received: its Authorization header and form. */
  readonly tokenRequests: { authorization: string | undefined; form: URLSearchParams }[];
  /** RFC 7662 introspection of `token` with the gateway's client. */
  introspect(
    token: string,
  ): Promise<{ active: boolean; sub?: string; client_id?: string; aud?: unknown; scope?: string }>;
  /** Revokes every grant of `account` (the user disconnected at the service). */
  revokeAccount(account: string): Promise<void>;
  /** The token endpoint answers 503 while set (a provider outage). */
  outage: boolean;
  close(): Promise<void>;
}

export interface UpstreamProviderOptions {
  readonly redirectUris: readonly string[];
  /** Access token lifetime, seconds (default 5). */
  readonly accessTokenTtl?: number;
  /**
   * An authorization server for a remote MCP server instead (discovery): open dynamic
   * registration, RFC 8414 metadata, and access tokens audience-bound (RFC 8707) to this
   * resource, which every authorization and token request must name.
   */
  readonly mcpResource?: string;
  /**
   * Accept clients identified by their Client ID Metadata Document (fetched over https,
   * trusting this CA besides the system roots) and advertise it in the metadata.
   */
  readonly clientIdMetadataDocuments?: { readonly ca: string };
}

export async function startUpstreamProvider(
  options: UpstreamProviderOptions,
): Promise<UpstreamProvider> {
  const Provider = await loadOidcProvider();
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) =>
    res.writeHead(503).end();
  const server: Server = createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clientId = 'portcullis-gateway';
  const clientSecret = 'upstream-client-secret-0123456789';
  const grants = new Map<string, Set<string>>();
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        // Discovery tests register the gateway dynamically; this client then only introspects.
        redirect_uris: options.redirectUris.length
          ? [...options.redirectUris]
          : ['https://introspection-only.invalid/cb'],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
      },
    ],
    cookies: { keys: ['upstream-provider-cookie-key'] },
    scopes: ['read', 'write', 'offline_access'],
    features: {
      devInteractions: { enabled: false },
      // The MCP server behind asks, whichever client the token was issued to.
      introspection: { enabled: true, allowedPolicy: async () => true },
      revocation: { enabled: true },
      ...(options.mcpResource ? mcpFeatures(options.mcpResource) : {}),
      ...(options.clientIdMetadataDocuments
        ? {
            clientIdMetadataDocument: {
              enabled: true,
              ack: 'draft-02',
              allowFetch: () => true,
              allowClient: () => true,
            },
          }
        : {}),
    },
    ...(options.clientIdMetadataDocuments
      ? { fetch: trustingFetch(options.clientIdMetadataDocuments.ca) }
      : {}),
    pkce: { required: () => true },
    ttl: { AccessToken: options.accessTokenTtl ?? 5, RefreshToken: 3600, Grant: 3600 },
    rotateRefreshToken: true,
    issueRefreshToken: () => true,
    findAccount: (_ctx: unknown, sub: string) => ({ accountId: sub, claims: () => ({ sub }) }),
    renderError: (ctx: ProviderContext, out: { error?: string }) => {
      ctx.type = 'text';
      ctx.body = `error: ${out.error ?? 'unknown'}`;
    },
    routes: { authorization: '/oauth/authorize', token: '/oauth/token' },
  });
  const state = {
    registrations: 0,
    refreshes: 0,
    refusedRefreshes: 0,
    outage: false,
    authorizations: [] as URLSearchParams[],
    tokenRequests: [] as { authorization: string | undefined; form: URLSearchParams }[],
  };
  provider.on('grant.success', (ctx) => {
    const params = (ctx as { oidc: { params?: { grant_type?: string } } }).oidc.params;
    if (params?.grant_type === 'refresh_token') state.refreshes++;
  });
  provider.on('grant.error', (ctx) => {
    const params = (ctx as { oidc: { params?: { grant_type?: string } } }).oidc.params;
    if (params?.grant_type === 'refresh_token') state.refusedRefreshes++;
  });
  provider.on('registration_create.success', () => void state.registrations++);
  const callback = provider.callback();
  handler = (req, res) => {
    const path = (req.url ?? '').split('?')[0] ?? '';
    const interactionUid = /^\/interaction\/([\w-]+)$/.exec(path)?.[1];
    if (interactionUid) {
      interaction(req, res, interactionUid).catch(() => res.writeHead(500).end());
      return;
    }
    if (path === '/.well-known/oauth-authorization-server' && options.mcpResource) {
      // RFC 8414's URL, with what oidc-provider publishes at OpenID discovery's.
      fetch(`${issuer}/.well-known/openid-configuration`)
        .then((r) => r.text())
        .then((body) => res.writeHead(200, { 'content-type': 'application/json' }).end(body))
        .catch(() => res.writeHead(500).end());
      return;
    }
    if (path === '/oauth/authorize') {
      state.authorizations.push(new URL(req.url ?? '/', issuer).searchParams);
    }
    if (path === '/oauth/token') {
      if (state.outage) {
        res.writeHead(503, { 'content-type': 'text/plain' }).end('down for maintenance');
        return;
      }
      recordToken(req).then(
        (forward) => forward && callback(req, res),
        () => res.writeHead(500).end(),
      );
      return;
    }
    callback(req, res);
  };

  /** Reads the form to record it, then hands oidc-provider a request it can read again. */
  async function recordToken(req: IncomingMessage): Promise<boolean> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    state.tokenRequests.push({
      authorization: req.headers.authorization,
      form: new URLSearchParams(body.toString('utf8')),
    });
    // Read already: oidc-provider then takes the body from here.
    (req as IncomingMessage & { body?: unknown }).body = body;
    return true;
  }

  async function interaction(req: IncomingMessage, res: ServerResponse, uid: string) {
    const details = await provider.interactionDetails(req, res);
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(
        `<form method="post" action="/interaction/${uid}"><input name="account">` +
          '<button name="decision" value="allow">Allow</button>' +
          '<button name="decision" value="deny">Deny</button></form>',
      );
      return;
    }
    let body = '';
    for await (const chunk of req) body += String(chunk);
    const form = new URLSearchParams(body);
    if (form.get('decision') !== 'allow') {
      await provider.interactionFinished(req, res, {
        error: 'access_denied',
        error_description: 'the user refused',
      });
      return;
    }
    const accountId = form.get('account') ?? 'anonymous';
    const clientIdOf = String(details.params.client_id);
    const grant = new provider.Grant({ accountId, clientId: clientIdOf });
    grant.addOIDCScope(String(details.params.scope ?? 'read'));
    if (options.mcpResource)
      grant.addResourceScope(options.mcpResource, String(details.params.scope ?? 'read'));
    const grantId = await grant.save();
    const ids = grants.get(accountId) ?? new Set<string>();
    ids.add(grantId);
    grants.set(accountId, ids);
    await provider.interactionFinished(req, res, {
      login: { accountId },
      consent: { grantId },
    });
  }

  return {
    issuer,
    authUrl: `${issuer}/oauth/authorize`,
    tokenUrl: `${issuer}/oauth/token`,
    clientId,
    clientSecret,
    provider,
    get refreshes() {
      return state.refreshes;
    },
    get refusedRefreshes() {
      return state.refusedRefreshes;
    },
    get registrations() {
      return state.registrations;
    },
    authorizations: state.authorizations,
    tokenRequests: state.tokenRequests,
    get outage() {
      return state.outage;
    },
    set outage(value: boolean) {
      state.outage = value;
    },
    async introspect(token) {
      const res = await fetch(`${issuer}/token/introspection`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ token }).toString(),
      });
      return (await res.json()) as {
        active: boolean;
        sub?: string;
        client_id?: string;
        aud?: unknown;
        scope?: string;
      };
    },
    async revokeAccount(account) {
      for (const grantId of grants.get(account) ?? []) {
        const grant = (await provider.Grant.find(grantId)) as
          { destroy(): Promise<void> } | undefined;
        // Its tokens die with it: oidc-provider looks the grant up on every use.
        await grant?.destroy();
      }
      grants.delete(account);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Registration open to anyone (as hosted MCP servers have it) and resource indicators. */
function mcpFeatures(resource: string) {
  return {
    registration: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx: unknown, indicator: string) => {
        if (indicator !== resource) throw new Error(`unknown resource ${indicator}`);
        return { scope: 'read write', audience: resource, accessTokenFormat: 'opaque' };
      },
    },
  };
}

/** `fetch` that trusts `ca` besides the system roots (the gateway's test certificate). */
function trustingFetch(ca: string) {
  const dispatcher = new Agent({ connect: { ca: [...rootCertificates, ca] } });
  return (url: string | URL, init: Record<string, unknown>) =>
    undiciFetch(String(url), { ...init, dispatcher } as Parameters<typeof undiciFetch>[1]);
}
