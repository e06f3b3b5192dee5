/**
 * The shipped gateway for the OAuth bench: three MCP routes to the same upstream, `/bearer` (any
 * signed-in user: an OAuth token is validated on every request), `/upstream` (the same, and the
 * user's upstream token from the vault is sent: a static `upstream_oauth2` at `provider`) and
 * `/public` (`allow_public_unauthenticated_access`: no validation). Logging at warn: the
 * per-request decision lines (info) would cost every route alike and blur the differences.
 */
import { join } from 'node:path';
import { startGatewayProcess, type GatewayProcess } from './gateway-process.js';
import { CACHE_DIR } from './spawn.js';

export type OAuthGateway = GatewayProcess;

export interface BenchUpstreamProvider {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly authUrl: string;
  readonly tokenUrl: string;
}

export function startOAuthGateway(
  upstreamUrl: string,
  port: number,
  provider: BenchUpstreamProvider,
): Promise<OAuthGateway> {
  const upstreamOauth2 = [
    `client_id: ${provider.clientId}`,
    `client_secret: ${provider.clientSecret}`,
    'scopes: [read]',
    `endpoint: { auth_url: '${provider.authUrl}', token_url: '${provider.tokenUrl}' }`,
  ].join(', ');
  return startGatewayProcess(
    'oauth-gateway',
    [
      { path: '/bearer', to: upstreamUrl, access: 'authenticated' },
      {
        path: '/upstream',
        to: upstreamUrl,
        access: 'authenticated',
        mcp: `{ server: { upstream_oauth2: { ${upstreamOauth2} } } }`,
      },
      { path: '/public', to: upstreamUrl, access: 'public' },
    ],
    {
      logLevel: 'warn',
      // BENCH_GATEWAY_PROFILE=1: a V8 CPU profile in .bench/profiles when the gateway stops.
      nodeOptions:
        process.env.BENCH_GATEWAY_PROFILE === '1'
          ? ['--cpu-prof', '--cpu-prof-dir', join(CACHE_DIR, 'profiles')]
          : [],
      port,
    },
  );
}
