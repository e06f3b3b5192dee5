/**
 * A real OpenID provider (oidc-provider) for tests, standing in for an external identity
 * provider (Google, Okta…): one confidential client, one user, a plain HTML login form at
 * `/interaction/:uid` (no devInteractions), refresh tokens, token revocation (RFC 7009, at
 * `/token/revocation`), RP-initiated logout.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  loadOidcProvider,
  type OidcProvider,
  type ProviderContext,
} from '../../src/oidc/provider-module.js';

export interface TestIdpUser {
  readonly sub: string;
  readonly email: string;
  readonly name: string;
  readonly groups: readonly string[];
  readonly password: string;
}

export const TEST_USER: TestIdpUser = {
  sub: 'user-0001',
  email: 'alice@example.com',
  name: 'Alice Example',
  groups: ['engineering', 'admins'],
  password: 'correct horse battery staple',
};

export interface TestIdp {
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly provider: OidcProvider;
  /** Successful refresh_token grants so far. */
  readonly refreshCount: number;
  /** Requests that reached the revocation endpoint so far (answered or not). */
  readonly revocationRequests: number;
  /** A hanging revocation endpoint reads requests and never answers them. */
  setRevocationHang(hang: boolean): void;
  /** A disabled user is unknown to the provider: its refresh tokens stop working. */
  setUserEnabled(enabled: boolean): void;
  close(): Promise<void>;
}

export interface TestIdpOptions {
  readonly redirectUris: readonly string[];
  readonly postLogoutRedirectUris?: readonly string[];
  readonly user?: TestIdpUser;
  /** Access token lifetime, seconds (default 300). */
  readonly accessTokenTtl?: number;
}

export async function startOidcIdp(options: TestIdpOptions): Promise<TestIdp> {
  const Provider = await loadOidcProvider();
  const user = options.user ?? TEST_USER;
  let enabled = true;
  let refreshCount = 0;
  let revocationRequests = 0;
  let revocationHangs = false;
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) =>
    res.writeHead(503).end();
  const server: Server = createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clientId = 'portcullis-test';
  const clientSecret = 'test-client-secret-0123456789abcdef';

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [...options.redirectUris],
        post_logout_redirect_uris: [...(options.postLogoutRedirectUris ?? [])],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
      },
    ],
    cookies: { keys: ['test-idp-cookie-key'] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'groups'] },
    features: {
      devInteractions: { enabled: false },
      revocation: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: (ctx: ProviderContext, form: string) => {
          ctx.body = `${form}<button form="op.logoutForm" name="logout" value="yes">Sign out</button>`;
        },
        postLogoutSuccessSource: (ctx: ProviderContext) => {
          ctx.body = 'signed out';
        },
      },
    },
    renderError: (ctx: ProviderContext, out: { error?: string }) => {
      ctx.type = 'text';
      ctx.body = `error: ${out.error ?? 'unknown'}`;
    },
    pkce: { required: () => true },
    ttl: { AccessToken: options.accessTokenTtl ?? 300, IdToken: 300 },
    findAccount: (_ctx: unknown, sub: string) =>
      enabled && sub === user.sub
        ? {
            accountId: sub,
            claims: () => ({
              sub,
              email: user.email,
              email_verified: true,
              name: user.name,
              groups: [...user.groups],
            }),
          }
        : undefined,
    issueRefreshToken: () => true,
    loadExistingGrant: async (ctx: ProviderContext) => {
      const { oidc } = ctx;
      const accountId = oidc.session?.accountId;
      if (!oidc.client || !accountId) return undefined;
      const grant = new oidc.provider.Grant({ accountId, clientId: oidc.client.clientId });
      grant.addOIDCScope('openid email profile offline_access');
      grant.addOIDCClaims(['email', 'email_verified', 'name', 'groups']);
      await grant.save();
      return grant;
    },
  });
  provider.on('grant.success', (ctx) => {
    const grantType = (ctx as { oidc: { params?: { grant_type?: string } } }).oidc.params
      ?.grant_type;
    if (grantType === 'refresh_token') refreshCount++;
  });
  const callback = provider.callback();
  handler = (req, res) => {
    if ((req.url ?? '').split('?')[0] === '/token/revocation') {
      revocationRequests++;
      if (revocationHangs) return void req.resume(); // read, never answered
    }
    const match = /^\/interaction\/([\w-]+)$/.exec((req.url ?? '').split('?')[0] ?? '');
    if (match) {
      interaction(req, res, match[1] ?? '').catch(() => res.writeHead(500).end());
      return;
    }
    callback(req, res);
  };

  async function interaction(req: IncomingMessage, res: ServerResponse, uid: string) {
    await provider.interactionDetails(req, res);
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(
        `<form method="post" action="/interaction/${uid}">` +
          '<input name="login"><input name="password" type="password"><button>Log in</button></form>',
      );
      return;
    }
    let body = '';
    for await (const chunk of req) body += String(chunk);
    const form = new URLSearchParams(body);
    if (form.get('login') !== user.email || form.get('password') !== user.password) {
      res.writeHead(401, { 'content-type': 'text/html' }).end('wrong credentials');
      return;
    }
    await provider.interactionFinished(req, res, { login: { accountId: user.sub } });
  }

  return {
    issuer,
    clientId,
    clientSecret,
    provider,
    get refreshCount() {
      return refreshCount;
    },
    get revocationRequests() {
      return revocationRequests;
    },
    setRevocationHang(hang) {
      revocationHangs = hang;
    },
    setUserEnabled(value) {
      enabled = value;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
