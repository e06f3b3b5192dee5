/**
 * An MCP server (the SDK's, stateless Streamable HTTP) that needs no upstream token: its tool
 * `hello` answers `hello`, and it records the Authorization header of every request, so a test
 * sees what the gateway passed on (nothing, on a route without an upstream).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';

export interface RecordingMcpServer {
  readonly url: string;
  /** Every Authorization header received, in order (undefined: none). */
  readonly authorizations: (string | undefined)[];
  close(): Promise<void>;
}

export async function startRecordingMcpServer(): Promise<RecordingMcpServer> {
  const authorizations: (string | undefined)[] = [];
  const server: Server = createServer((req, res) => {
    authorizations.push(req.headers.authorization);
    const mcp = new McpServer({ name: 'recording', version: '0.0.0' });
    mcp.registerTool('hello', { description: 'Says hello' }, async () => ({
      content: [{ type: 'text', text: 'hello' }],
    }));
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    });
    res.on('close', () => {
      void transport.close();
      void mcp.close();
    });
    mcp
      .connect(transport)
      .then(() => transport.handleRequest(req, res))
      .catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500).end(String(err));
      });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    authorizations,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
