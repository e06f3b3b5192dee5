import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';

/** A successful tool result: the object as `structuredContent` and the same JSON as text. */
export function toolResult(value: Record<string, unknown>): CallToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(value) }], structuredContent: value };
}

/** A tool-level error the model can read and act on (MCP "Error Handling": `isError`). */
export function toolError(
  code: string,
  message: string,
  details: Record<string, unknown> = {},
): CallToolResult {
  return {
    isError: true,
    content: [{ type: 'text', text: JSON.stringify({ error: { code, message, ...details } }) }],
  };
}
