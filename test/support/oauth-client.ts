/**
 * An `OAuthClientProvider` for the MCP SDK's own OAuth client (`auth()`), whose browser is
 * `authorizeInBrowser`: the SDK discovers, registers, builds the authorization URL; this
 * provider plays sign-in and consent and keeps the redirect the SDK would have received.
 */
import assert from 'node:assert/strict';
import { auth, type OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from '@modelcontextprotocol/sdk/shared/auth.js';
import { authorizeInBrowser, type BrowserOptions, type BrowserResult } from './oauth-browser.js';

export class BrowserOAuthProvider implements OAuthClientProvider {
  private info: OAuthClientInformationMixed | undefined;
  private saved: OAuthTokens | undefined;
  private verifier = '';
  /** The last browser run (its `location` carries the code). */
  lastRun: BrowserResult | undefined;
  registrations = 0;

  constructor(
    private readonly browser: BrowserOptions,
    private readonly metadata: Partial<OAuthClientMetadata> = {},
    readonly redirectUrl = 'http://127.0.0.1:53682/callback',
  ) {}

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: 'Portcullis SDK test client',
      redirect_uris: [this.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      ...this.metadata,
    };
  }
  clientInformation() {
    return this.info;
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.registrations++;
    this.info = info;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens: OAuthTokens) {
    this.saved = tokens;
  }
  async redirectToAuthorization(url: URL) {
    this.lastRun = await authorizeInBrowser(url, this.browser);
  }
  saveCodeVerifier(verifier: string) {
    this.verifier = verifier;
  }
  codeVerifier() {
    return this.verifier;
  }
  /** Forgets tokens (the client must authorize again). */
  forgetTokens() {
    this.saved = undefined;
  }
  /** The SDK asks for this when the server refused a refresh (`invalid_grant`) or the client. */
  invalidateCredentials(scope: 'all' | 'client' | 'tokens' | 'verifier') {
    if (scope === 'all' || scope === 'tokens') this.saved = undefined;
    if (scope === 'all' || scope === 'client') this.info = undefined;
    if (scope === 'all' || scope === 'verifier') this.verifier = '';
  }
}

/** Runs the SDK's whole flow for `serverUrl`: discovery, registration, browser, code exchange. */
export async function authorizeWithSdk(
  provider: BrowserOAuthProvider,
  serverUrl: string,
): Promise<OAuthTokens> {
  const first = await auth(provider, { serverUrl });
  if (first === 'REDIRECT') {
    const location = provider.lastRun?.location;
    assert.ok(location, 'the browser never came back');
    const code = location.searchParams.get('code');
    assert.ok(code, `no code in ${location.href}`);
    assert.equal(await auth(provider, { serverUrl, authorizationCode: code }), 'AUTHORIZED');
  }
  const tokens = provider.tokens();
  assert.ok(tokens);
  return tokens;
}
