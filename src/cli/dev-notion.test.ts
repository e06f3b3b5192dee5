import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { ConfigError } from '../core/errors.js';
import { notionMcpYaml, notionOAuthFromEnv } from './dev-notion.js';

test('no Notion client: /notion stays off', () => {
  assert.equal(notionOAuthFromEnv({}), undefined);
  assert.equal(notionOAuthFromEnv({ NOTION_CLIENT_ID: ' ', NOTION_CLIENT_SECRET: '' }), undefined);
});

test('a client alone gets Notion’s endpoints; the environment can point them elsewhere', () => {
  const env = { NOTION_CLIENT_ID: 'id-1', NOTION_CLIENT_SECRET: 'secret_x' };
  assert.deepEqual(notionOAuthFromEnv(env), {
    clientId: 'id-1',
    clientSecret: 'secret_x',
    authUrl: 'https://api.notion.com/v1/oauth/authorize',
    tokenUrl: 'https://api.notion.com/v1/oauth/token',
  });
  const moved = notionOAuthFromEnv({
    ...env,
    NOTION_AUTH_URL: 'http://127.0.0.1:9/v1/oauth/authorize',
    NOTION_TOKEN_URL: 'http://127.0.0.1:9/v1/oauth/token',
  });
  assert.equal(moved?.authUrl, 'http://127.0.0.1:9/v1/oauth/authorize');
  assert.equal(moved?.tokenUrl, 'http://127.0.0.1:9/v1/oauth/token');
});

test('half a client, or a bad endpoint, stops start-up naming the variable', () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ NOTION_CLIENT_ID: 'id' }, /^NOTION_CLIENT_SECRET: set NOTION_CLIENT_ID and/],
    [{ NOTION_CLIENT_SECRET: 's' }, /^NOTION_CLIENT_ID: /],
    [
      { NOTION_CLIENT_ID: 'id', NOTION_CLIENT_SECRET: 's', NOTION_TOKEN_URL: 'ftp://x' },
      /^NOTION_TOKEN_URL: /,
    ],
  ];
  for (const [env, message] of cases) {
    assert.throws(
      () => notionOAuthFromEnv(env),
      (err: unknown) => err instanceof ConfigError && message.test(err.message),
    );
  }
});

test('the route’s upstream_oauth2 is Notion’s: owner=user, HTTP Basic; any secret stays verbatim', () => {
  const secret = `secret_: #{a}, 'b' "c" \\ ü`;
  const lines = notionMcpYaml({
    clientId: 'id-1',
    clientSecret: secret,
    authUrl: 'https://api.notion.com/v1/oauth/authorize',
    tokenUrl: 'https://api.notion.com/v1/oauth/token',
  });
  const route = (parse(['route:', ...lines].join('\n')) as { route: Record<string, unknown> })
    .route;
  assert.deepEqual((route.mcp as { server: unknown }).server, {
    upstream_oauth2: {
      client_id: 'id-1',
      client_secret: secret,
      authorization_url_params: { owner: 'user' },
      endpoint: {
        auth_url: 'https://api.notion.com/v1/oauth/authorize',
        token_url: 'https://api.notion.com/v1/oauth/token',
        auth_style: 'header',
      },
    },
  });
});
