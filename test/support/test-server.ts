import { setTimeout as sleep } from 'node:timers/promises';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { ServerFactory } from '../../src/servers/types.js';

/** What the `slow` tool saw, so tests can wait for a call to start and see how it ended. */
export class SlowToolProbe {
  readonly started: string[] = [];
  readonly aborted: string[] = [];
  readonly finished: string[] = [];
  private waiters: (() => void)[] = [];

  record(list: string[], tag: string): void {
    list.push(tag);
    for (const wake of this.waiters.splice(0)) wake();
  }

  /** Resolves once `check` holds (re-checked whenever the tool records something). */
  async until(check: (probe: this) => boolean, timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check(this)) {
      if (Date.now() > deadline) throw new Error('SlowToolProbe: timed out waiting');
      await Promise.race([new Promise<void>((resolve) => this.waiters.push(resolve)), sleep(50)]);
    }
  }
}

/**
 * A tiny server for host tests, mounted at `/test`:
 * - `echo {value}` answers `value` after a random 0–8 ms, so concurrent calls finish out of order;
 * - `slow {ms, tag}` waits `ms` unless its `extra.signal` fires, recording both in `probe`;
 * - `progress {steps}` sends `steps` progress notifications before answering.
 */
export function testServerFactory(probe = new SlowToolProbe()): ServerFactory {
  return async function createTestServer() {
    const mcp = new McpServer({ name: 'portcullis-test', version: '0.0.0' });
    mcp.registerTool(
      'echo',
      { description: 'Echoes its argument', inputSchema: { value: z.string() } },
      async ({ value }) => {
        await sleep(Math.floor(Math.random() * 9));
        return { content: [{ type: 'text', text: value }] };
      },
    );
    mcp.registerTool(
      'slow',
      {
        description: 'Waits, unless cancelled',
        inputSchema: { ms: z.number().int().min(0), tag: z.string() },
      },
      async ({ ms, tag }, extra) => {
        probe.record(probe.started, tag);
        try {
          await sleep(ms, undefined, { signal: extra.signal });
        } catch {
          probe.record(probe.aborted, tag);
          return { isError: true, content: [{ type: 'text', text: 'aborted' }] };
        }
        probe.record(probe.finished, tag);
        return { content: [{ type: 'text', text: `done ${tag}` }] };
      },
    );
    mcp.registerTool(
      'progress',
      { description: 'Reports progress', inputSchema: { steps: z.number().int().min(1).max(10) } },
      async ({ steps }, extra) => {
        const token = extra._meta?.progressToken;
        if (token !== undefined) {
          for (let i = 1; i <= steps; i++) {
            await extra.sendNotification({
              method: 'notifications/progress',
              params: { progressToken: token, progress: i, total: steps },
            });
          }
        }
        return { content: [{ type: 'text', text: `${steps} steps` }] };
      },
    );
    return { name: 'test', path: '/test', mcp, close: async () => {} };
  };
}
