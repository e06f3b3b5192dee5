/** One MCP tools/call over HTTP, the way a stateless client sends it. */

export const MCP_HEADERS = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  'mcp-protocol-version': '2025-06-18',
} as const;

export function toolsCallBody(name: string, args: Record<string, unknown> = {}): string {
  return JSON.stringify({
    jsonrpc: '2.0',
    id: 1,
    method: 'tools/call',
    params: { name, arguments: args },
  });
}

export interface ToolAnswer {
  /** Round trip: request sent until the whole body is read. */
  readonly ms: number;
  readonly bytes: number;
  readonly result: {
    isError?: boolean;
    structuredContent?: Record<string, unknown>;
    content?: Array<{ text?: string }>;
  };
}

export async function callTool(
  url: string,
  name: string,
  args: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<ToolAnswer> {
  const started = performance.now();
  const res = await fetch(url, {
    method: 'POST',
    headers: { ...MCP_HEADERS, ...headers },
    body: toolsCallBody(name, args),
  });
  const text = await res.text();
  const ms = performance.now() - started;
  if (res.status !== 200)
    throw new Error(`${url} ${name}: HTTP ${res.status}: ${text.slice(0, 300)}`);
  // An SSE answer carries the response in its last `data:` line.
  const json = res.headers.get('content-type')?.startsWith('text/event-stream')
    ? (text
        .match(/^data: (.*)$/gm)
        ?.pop()
        ?.slice(6) ?? '')
    : text;
  const message = JSON.parse(json) as { result?: ToolAnswer['result']; error?: unknown };
  if (!message.result) throw new Error(`${url} ${name}: ${JSON.stringify(message.error)}`);
  return { ms, bytes: text.length, result: message.result };
}

/** Throws unless the answer is a successful tool result. */
export function expectSuccess(answer: ToolAnswer, what: string): void {
  if (answer.result.isError) {
    throw new Error(`${what} answered with a tool error: ${answer.result.content?.[0]?.text}`);
  }
}
