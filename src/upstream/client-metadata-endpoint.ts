/**
 * `GET /.pomerium/mcp/client/metadata.json`: the gateway's own Client ID Metadata Document, by
 * which it is a client of upstream authorization servers that accept those instead of
 * registration. Its URL is its `client_id`, so it describes the host it is fetched from.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson } from '../core/respond.js';
import { CALLBACK_PATH } from './catalog.js';
import { CLIENT_METADATA_PATH } from './discovery.js';
import { clientMetadata } from './registration.js';

export function clientMetadataEndpoint(scheme: 'http' | 'https') {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-length': 0 }).end();
      return;
    }
    const origin = `${scheme}://${req.headers.host ?? 'localhost'}`;
    sendJson(
      res,
      200,
      {
        client_id: `${origin}${CLIENT_METADATA_PATH}`,
        ...clientMetadata(`${origin}${CALLBACK_PATH}`, 'none'),
      },
      { 'cache-control': 'public, max-age=3600' },
    );
  };
}
