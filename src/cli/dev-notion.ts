/**
 * `/notion` in `npm start`: on only when the Notion integration's OAuth client is given, since
 * the Notion server needs each user's Notion token and the gateway gets it by Notion's OAuth
 * (a static `upstream_oauth2`, REFERENCE §10). The endpoints default to Notion's and can be
 * pointed elsewhere (a test fixture, a proxy); the API base is the servers host's own
 * `NOTION_API_BASE_URL`, passed through with the rest of the environment.
 */
import { ConfigError } from '../core/errors.js';
import { urlFromEnv } from '../core/env.js';

type Env = Readonly<Record<string, string | undefined>>;

export const NOTION_AUTH_URL = 'https://api.notion.com/v1/oauth/authorize';
export const NOTION_TOKEN_URL = 'https://api.notion.com/v1/oauth/token';

/** Where an upstream provider sends the browser back; what to register at Notion. */
export const upstreamCallbackUrl = (origin: string) =>
  `${origin}/.pomerium/mcp/client/oauth/callback`;

export interface NotionOAuthSettings {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly authUrl: string;
  readonly tokenUrl: string;
}

/** The Notion OAuth client from the environment, or undefined when neither half is set. */
export function notionOAuthFromEnv(env: Env): NotionOAuthSettings | undefined {
  const clientId = env.NOTION_CLIENT_ID?.trim() ?? '';
  const clientSecret = env.NOTION_CLIENT_SECRET?.trim() ?? '';
  if (clientId === '' && clientSecret === '') return undefined;
  if (clientId === '' || clientSecret === '') {
    throw new ConfigError(
      clientId === '' ? 'NOTION_CLIENT_ID' : 'NOTION_CLIENT_SECRET',
      'set NOTION_CLIENT_ID and NOTION_CLIENT_SECRET together (the OAuth client of a public Notion integration)',
    );
  }
  return {
    clientId,
    clientSecret,
    authUrl: (urlFromEnv(env, 'NOTION_AUTH_URL') ?? new URL(NOTION_AUTH_URL)).href,
    tokenUrl: (urlFromEnv(env, 'NOTION_TOKEN_URL') ?? new URL(NOTION_TOKEN_URL)).href,
  };
}

/** The route's `mcp` block: Notion's OAuth as Notion documents it. */
export function notionMcpYaml(settings: NotionOAuthSettings): string[] {
  // JSON strings are YAML scalars: a secret with YAML's special characters stays a string.
  const q = JSON.stringify;
  return [
    '    description: Search and read your Notion workspace (your own Notion account)',
    '    mcp:',
    '      server:',
    '        upstream_oauth2:',
    `          client_id: ${q(settings.clientId)}`,
    `          client_secret: ${q(settings.clientSecret)}`,
    // Notion asks for owner=user on every authorization of a public integration.
    '          authorization_url_params: { owner: user }',
    '          endpoint:',
    `            auth_url: ${q(settings.authUrl)}`,
    `            token_url: ${q(settings.tokenUrl)}`,
    // HTTP Basic client_id:client_secret on the token request.
    '            auth_style: header',
  ];
}
