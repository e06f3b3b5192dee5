import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

/** Connects the SDK's own client (Streamable HTTP) to `url`, sending `headers` on every request. */
export async function connectClient(
  url: string,
  headers: Record<string, string> = {},
): Promise<Client> {
  const client = new Client({ name: 'portcullis-tests', version: '0.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers },
  });
  await client.connect(transport);
  return client;
}

/** The text of a tool result's first content item (takes `callTool`'s union result as is). */
export function firstText(result: unknown): string {
  const content = (result as { content?: { type: string; text?: string }[] } | null)?.content;
  const first = content?.[0];
  if (first?.type !== 'text' || typeof first.text !== 'string') {
    throw new Error(`expected a text content item, got ${JSON.stringify(result)}`);
  }
  return first.text;
}
