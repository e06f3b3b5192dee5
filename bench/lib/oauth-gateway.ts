/**
 * The shipped gateway for the OAuth bench: two MCP routes to the same upstream, `/bearer` (any
 * signed-in user: an OAuth token is validated on every request) and `/public`
 * (`allow_public_unauthenticated_access`: no validation). Logging at warn: the per-request
 * decision lines (info) would cost both routes alike and blur the difference being measured.
 */
import { startGatewayProcess, type GatewayProcess } from './gateway-process.js';

export type OAuthGateway = GatewayProcess;

export function startOAuthGateway(upstreamUrl: string): Promise<OAuthGateway> {
  return startGatewayProcess(
    'oauth-gateway',
    [
      { path: '/bearer', to: upstreamUrl, access: 'authenticated' },
      { path: '/public', to: upstreamUrl, access: 'public' },
    ],
    'warn',
  );
}
