/**
 * A bare OAuth 2.0 token endpoint that only refreshes (RFC 6749 §6), as providers with
 * rotating refresh tokens do: each refresh token works once, the answer carries its successor,
 * a token used again is refused with `invalid_grant` (§5.2). Each answer waits `delayMs`, so
 * concurrent refreshes overlap as they do at a real provider. Counts what it accepted and refused.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RefreshEndpoint {
  readonly tokenUrl: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly refreshes: number;
  readonly refused: number;
  /** Makes `refreshToken` live (the one a test stores as if a code exchange gave it). */
  issue(refreshToken: string): void;
  close(): Promise<void>;
}

export async function startRefreshEndpoint(delayMs = 100): Promise<RefreshEndpoint> {
  const clientId = 'gateway-client';
  const clientSecret = 'refresh-endpoint-secret';
  const basic = `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`;
  const live = new Set<string>();
  const counts = { refreshes: 0, refused: 0 };
  const server = createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += String(chunk);
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    const form = new URLSearchParams(body);
    const answer = (status: number, json: object) =>
      res
        .writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
        .end(JSON.stringify(json));
    if (req.headers.authorization !== basic) return answer(401, { error: 'invalid_client' });
    if (form.get('grant_type') !== 'refresh_token') {
      return answer(400, { error: 'unsupported_grant_type' });
    }
    if (!live.delete(form.get('refresh_token') ?? '')) {
      counts.refused++;
      return answer(400, { error: 'invalid_grant' });
    }
    const n = ++counts.refreshes;
    live.add(`refresh-${n}`);
    answer(200, {
      access_token: `access-${n}`,
      token_type: 'Bearer',
      expires_in: 3600,
      refresh_token: `refresh-${n}`,
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    tokenUrl: `http://127.0.0.1:${port}/token`,
    clientId,
    clientSecret,
    get refreshes() {
      return counts.refreshes;
    },
    get refused() {
      return counts.refused;
    },
    issue: (token) => void live.add(token),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
