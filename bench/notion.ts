/**
 * `fetch` of the 2,000-block page through the servers host, with the Notion fixture adding
 * 20 ms to every call, against a plain sequential walk (one children list at a time, the way
 * the original server reads a page). Both produce the same Markdown; the figures are the
 * Notion calls each makes and the wall time.
 */
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { Client as NotionClient, isFullBlock } from '@notionhq/client';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startServersHost } from '../src/servers/host.js';
import { createNotionServer } from '../src/servers/notion/server.js';
import { childrenSource, type BlockNode } from '../src/servers/notion/block-tree.js';
import { blocksToMarkdown } from '../src/servers/notion/markdown.js';
import {
  ALICE_TOKEN,
  startNotionFixture,
  type NotionFixture,
} from '../test/fixtures/notion/server.js';
import { IDS } from '../test/fixtures/notion/workspace.js';
import { fmt, printTable } from './lib/table.js';

const LATENCY_MS = Number(process.env.BENCH_NOTION_LATENCY_MS ?? 20);
const RUNS = Number(process.env.BENCH_NOTION_RUNS ?? 3);
const CONCURRENCIES = [1, 4, 8];

interface Figures {
  readonly calls: number;
  readonly ms: number;
  readonly maxInFlight: number;
  readonly text: string;
}

export async function run(): Promise<void> {
  const fixture = await startNotionFixture();
  try {
    console.log(
      `fetch of "Support Ticket Log" (2,000 blocks), fixture latency ${LATENCY_MS} ms per call, median of ${RUNS} runs`,
    );
    const rows: string[][] = [];
    fixture.latencyMs = LATENCY_MS;
    const sequential = await repeat(fixture, () => sequentialWalk(fixture.url));
    rows.push(row('sequential walk (baseline)', sequential));
    for (const concurrency of CONCURRENCIES) {
      const figures = await viaHost(fixture, concurrency);
      if (figures.text !== sequential.text) {
        throw new Error(`concurrency ${concurrency}: Markdown differs from the sequential walk`);
      }
      const label = `fetch tool, NOTION_FETCH_CONCURRENCY=${concurrency}${concurrency === 4 ? ' (default)' : ''}`;
      rows.push([...row(label, figures), fmt.ratio(sequential.ms / figures.ms)]);
    }
    printTable(['strategy', 'Notion calls', 'wall time', 'max in flight', 'speed-up'], rows);
  } finally {
    await fixture.close();
  }
}

function row(label: string, f: Figures): string[] {
  return [label, fmt.int(f.calls), fmt.ms(f.ms), String(f.maxInFlight)];
}

async function repeat(fixture: NotionFixture, once: () => Promise<string>): Promise<Figures> {
  const samples: Figures[] = [];
  for (let i = 0; i < RUNS; i++) {
    fixture.reset();
    const started = performance.now();
    const text = await once();
    samples.push({
      calls: fixture.requests.length,
      ms: performance.now() - started,
      maxInFlight: fixture.maxInFlight,
      text,
    });
  }
  samples.sort((a, b) => a.ms - b.ms);
  return samples[samples.length >> 1]!;
}

async function viaHost(fixture: NotionFixture, concurrency: number): Promise<Figures> {
  const host = await startServersHost(
    {
      env: {
        PORT: '0',
        HOST: '127.0.0.1',
        NOTION_API_BASE_URL: fixture.url,
        NOTION_FETCH_CONCURRENCY: String(concurrency),
      },
      logger: pino({ level: 'silent' }),
    },
    [createNotionServer],
  );
  const client = new Client({ name: 'bench', version: '0.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${host.url}/notion`), {
      requestInit: { headers: { Authorization: `Bearer ${ALICE_TOKEN}` } },
    }),
  );
  try {
    return await repeat(fixture, async () => {
      const result = await client.callTool({ name: 'fetch', arguments: { id: IDS.supportLog } });
      if (result.isError) throw new Error(`fetch failed: ${JSON.stringify(result.content)}`);
      return (result.structuredContent as { text: string }).text;
    });
  } finally {
    await client.close();
    await host.close();
  }
}

/** The baseline: retrieve the page, then list children one call after another, depth first. */
async function sequentialWalk(baseUrl: string): Promise<string> {
  const notion = new NotionClient({ baseUrl, auth: ALICE_TOKEN, retry: false });
  await notion.pages.retrieve({ page_id: IDS.supportLog });
  const walk = async (id: string): Promise<BlockNode[]> => {
    const nodes: BlockNode[] = [];
    let cursor: string | undefined;
    do {
      const page = await notion.blocks.children.list({
        block_id: id,
        page_size: 100,
        ...(cursor ? { start_cursor: cursor } : {}),
      });
      for (const block of page.results) {
        if (!isFullBlock(block)) continue;
        const source = childrenSource(block);
        nodes.push({ block, children: source ? await walk(source.id) : [] });
      }
      cursor = page.has_more && page.next_cursor ? page.next_cursor : undefined;
    } while (cursor);
    return nodes;
  };
  return blocksToMarkdown(await walk(IDS.supportLog));
}
