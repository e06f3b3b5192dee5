// /notion through the servers host, driven by the MCP SDK's own client, against the Notion
// fixture server: the deep-research search/fetch contract, Markdown written by hand before
// the renderer existed, per-request tokens, pagination, concurrency and rate limits.
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { createNotionServer } from '../src/servers/notion/server.js';
import type { ServersHost } from '../src/servers/host.js';
import { startTestHost } from './support/host.js';
import { connectClient, firstText } from './support/mcp-client.js';
import { fromRoot } from './support/paths.js';
import {
  ALICE_TOKEN,
  BOB_TOKEN,
  startNotionFixture,
  type NotionFixture,
} from './fixtures/notion/server.js';
import { IDS } from './fixtures/notion/workspace.js';

// OpenAI deep research: exactly these fields (metadata optional, here always present).
const SearchContract = z
  .object({
    results: z.array(z.object({ id: z.string(), title: z.string(), url: z.url() }).strict()),
  })
  .strict();
const FetchContract = z
  .object({
    id: z.string(),
    title: z.string(),
    text: z.string(),
    url: z.url(),
    metadata: z.record(z.string(), z.string()),
  })
  .strict();

interface Answer {
  readonly isError: boolean;
  readonly structured: unknown;
  readonly json: Record<string, unknown> & { error?: Record<string, unknown> };
  readonly contentCount: number;
}

async function call(
  host: ServersHost,
  tool: string,
  args: Record<string, unknown>,
  token: string | null = ALICE_TOKEN,
  headers: Record<string, string> = token ? { Authorization: `Bearer ${token}` } : {},
): Promise<Answer> {
  const client: Client = await connectClient(`${host.url}/notion`, headers);
  try {
    const result = await client.callTool({ name: tool, arguments: args });
    return {
      isError: result.isError === true,
      structured: result.structuredContent,
      json: JSON.parse(firstText(result)) as Answer['json'],
      contentCount: (result.content as unknown[]).length,
    };
  } finally {
    await client.close();
  }
}

/** Checks the contract and returns the parsed object. */
function expectContract<T>(answer: Answer, schema: z.ZodType<T>): T {
  assert.equal(answer.isError, false, JSON.stringify(answer.json));
  assert.equal(answer.contentCount, 1, 'exactly one content item');
  assert.deepEqual(answer.json, answer.structured, 'text and structuredContent agree');
  return schema.parse(answer.json);
}

function expectError(answer: Answer, code: string) {
  assert.equal(answer.isError, true, `expected ${code}, got ${JSON.stringify(answer.json)}`);
  assert.equal(answer.structured, undefined);
  assert.equal(answer.json.error?.code, code, JSON.stringify(answer.json));
  return answer.json.error!;
}

const golden = (name: string) =>
  readFile(fromRoot('test', 'fixtures', 'notion', 'golden', name), 'utf8').then((s) => s.trimEnd());

const childrenCalls = (fixture: NotionFixture) =>
  fixture.requests.filter((r) => /^\/v1\/blocks\/[^/]+\/children$/.test(r.path)).length;

describe('notion server', () => {
  let fixture: NotionFixture;
  let host: ServersHost;
  const sleeps: number[] = [];

  before(async () => {
    fixture = await startNotionFixture();
    host = await startTestHost(
      [
        (ctx) =>
          createNotionServer(ctx, {
            sleep: async (ms) => {
              sleeps.push(ms);
            },
          }),
      ],
      { NOTION_API_BASE_URL: fixture.url, NOTION_FETCH_CONCURRENCY: '4' },
    );
  });
  after(async () => {
    await host.close();
    await fixture.close();
  });
  beforeEach(() => {
    fixture.reset();
    fixture.latencyMs = 0;
    sleeps.length = 0;
  });

  describe('contract and tools', () => {
    test('lists search and fetch with input and output schemas', async () => {
      const client = await connectClient(`${host.url}/notion`);
      try {
        const { tools } = await client.listTools();
        const byName = new Map(tools.map((tool) => [tool.name, tool]));
        assert.deepEqual([...byName.keys()].sort(), ['fetch', 'search']);
        assert.deepEqual(byName.get('search')?.inputSchema.required, ['query']);
        assert.deepEqual(byName.get('fetch')?.inputSchema.required, ['id']);
        assert.deepEqual(Object.keys(byName.get('fetch')?.outputSchema?.properties ?? {}).sort(), [
          'id',
          'metadata',
          'text',
          'title',
          'url',
        ]);
        assert.match(byName.get('search')?.description ?? '', /title/i);
        assert.match(byName.get('search')?.description ?? '', /not against the text/);
      } finally {
        await client.close();
      }
    });

    test('search returns titles, ids and URLs of matching pages', async () => {
      const { results } = expectContract(
        await call(host, 'search', { query: 'weekly sync' }),
        SearchContract,
      );
      assert.equal(results.length, 16);
      assert.equal(results[0]?.title, 'Weekly Sync — 2026-01-05');
      for (const r of results) assert.match(r.url, /^https:\/\/www\.notion\.so\/Weekly-Sync-/);
    });

    test('search covers data sources and database rows, titled by their own title property', async () => {
      const { results } = expectContract(
        await call(host, 'search', { query: 'launch' }),
        SearchContract,
      );
      const titles = new Map(results.map((r) => [r.id, r.title]));
      assert.equal(titles.get(IDS.launchTasksDs), 'Launch Tasks');
      assert.equal(titles.get(IDS.task(1)), 'Write the launch plan');
      assert.equal(titles.get(IDS.task(6)), 'Launch announcement');
      const feedback = expectContract(
        await call(host, 'search', { query: 'feedback' }),
        SearchContract,
      );
      assert.deepEqual(
        feedback.results.map((r) => r.id).sort(),
        [IDS.feedback2025Ds, IDS.feedback2026Ds].sort(),
      );
    });

    test('search follows the cursor and stops at NOTION_SEARCH_MAX_RESULTS', async () => {
      fixture.maxPageSize = 10;
      const all = expectContract(await call(host, 'search', { query: '' }), SearchContract);
      const total = fixture.workspace.searchable.length;
      assert.ok(total > 50, `workspace has ${total} searchable items`);
      // Default cap 50: five pages of ten, and no sixth call.
      assert.equal(all.results.length, 50);
      assert.equal(new Set(all.results.map((r) => r.id)).size, 50);
      assert.equal(fixture.requests.filter((r) => r.path === '/v1/search').length, 5);
    });

    test('search with no match is an empty list, not an error', async () => {
      const { results } = expectContract(
        await call(host, 'search', { query: 'no such title anywhere' }),
        SearchContract,
      );
      assert.deepEqual(results, []);
    });
  });

  describe('fetch renders pages as Markdown', () => {
    test('every block type (golden written by hand)', async () => {
      const doc = expectContract(
        await call(host, 'fetch', { id: IDS.blockGallery }),
        FetchContract,
      );
      assert.equal(doc.id, IDS.blockGallery);
      assert.equal(doc.title, 'Block Gallery');
      assert.equal(doc.url, 'https://www.notion.so/Block-Gallery-3c4d5e6f70814c3dae4f5a6b7c8d9eaf');
      assert.deepEqual(doc.metadata, {});
      assert.equal(doc.text, await golden('block-gallery.md'));
    });

    test('nested numbered lists, code inside items, to-dos with children (golden)', async () => {
      const doc = expectContract(
        await call(host, 'fetch', { id: IDS.onboardingGuide }),
        FetchContract,
      );
      assert.equal(doc.title, 'Onboarding Guide');
      assert.equal(doc.text, await golden('onboarding-guide.md'));
    });

    test('accepts a Notion URL or a compact id as well as a dashed id', async () => {
      const byUrl = expectContract(
        await call(host, 'fetch', {
          id: 'https://www.notion.so/acme/Onboarding-Guide-2b3c4d5e6f704b2c9d3e4f5a6b7c8d9e?pvs=4',
        }),
        FetchContract,
      );
      assert.equal(byUrl.id, IDS.onboardingGuide);
      const compact = expectContract(
        await call(host, 'fetch', { id: IDS.onboardingGuide.replace(/-/g, '') }),
        FetchContract,
      );
      assert.equal(compact.text, byUrl.text);
    });

    test('stops at NOTION_MAX_DEPTH and says so (golden)', async () => {
      const doc = expectContract(await call(host, 'fetch', { id: IDS.deepOutline }), FetchContract);
      assert.equal(doc.text, await golden('deeply-nested-outline.md'));
      // Eight levels fetched: the page's children, then one call per level below it.
      assert.equal(childrenCalls(fixture), 8);
    });

    test('a database row keeps its properties as string metadata', async () => {
      const doc = expectContract(await call(host, 'fetch', { id: IDS.task(2) }), FetchContract);
      assert.equal(doc.title, 'Load-test the gateway');
      assert.deepEqual(doc.metadata, {
        Status: 'In progress',
        Owner: 'Grace Hopper',
        Due: '2026-02-10',
        Tags: 'Backend, Perf',
        Estimate: '5',
        Shipped: 'false',
      });
      assert.equal(doc.text, 'Run k6 against staging at 2x peak.\n\n- Target: p99 under 200 ms');
    });

    test('child pages are links, never inlined', async () => {
      const doc = expectContract(
        await call(host, 'fetch', { id: IDS.engineeringHandbook }),
        FetchContract,
      );
      assert.match(
        doc.text,
        /^📄 \[Architecture Decision Records\]\(https:\/\/www\.notion\.so\/[0-9a-f]{32}\)$/m,
      );
      assert.doesNotMatch(doc.text, /ADR-001/);
    });
  });

  describe('fetch renders databases as tables', () => {
    test('a database id lists the rows of its data source (golden)', async () => {
      const doc = expectContract(
        await call(host, 'fetch', { id: IDS.launchTasksDb }),
        FetchContract,
      );
      assert.equal(doc.title, 'Launch Tasks');
      assert.deepEqual(doc.metadata, { object: 'database', rows: '6' });
      assert.equal(doc.text, await golden('launch-tasks.md'));
    });

    test('a data source id from search gives the same table', async () => {
      const doc = expectContract(
        await call(host, 'fetch', { id: IDS.launchTasksDs }),
        FetchContract,
      );
      assert.deepEqual(doc.metadata, { object: 'data_source', rows: '6' });
      assert.equal(doc.text, await golden('launch-tasks.md'));
    });

    test('a database with two data sources gets one section each, rows read through the cursor', async () => {
      fixture.maxPageSize = 2;
      const doc = expectContract(await call(host, 'fetch', { id: IDS.feedbackDb }), FetchContract);
      assert.equal(doc.title, 'Customer Feedback');
      assert.deepEqual(doc.metadata, { object: 'database', rows: '7' });
      const sections = doc.text.split(/^## /m);
      assert.equal(sections[0]?.trim(), 'Interview notes, one data source per year.');
      assert.match(sections[1] ?? '', /^Feedback 2025\n/);
      assert.match(sections[2] ?? '', /^Feedback 2026\n/);
      assert.equal((sections[1]?.match(/^\| \[/gm) ?? []).length, 4);
      assert.equal((sections[2]?.match(/^\| \[/gm) ?? []).length, 3);
      assert.match(doc.text, /^\| Summary \| Customer \| Sentiment \|$/m);
      assert.match(doc.text, /\| \[Need SCIM provisioning\]\([^)]+\) \| Customer D \| Negative \|/);
      const queries = fixture.requests.filter((r) => r.path.endsWith('/query')).length;
      assert.equal(queries, 2 + 2, 'four rows in pages of two, then three in pages of two');
    });
  });

  describe('the 2,000-block page', () => {
    test('is read completely, in order, with concurrent calls under the limit', async () => {
      fixture.latencyMs = 3;
      const doc = expectContract(await call(host, 'fetch', { id: IDS.supportLog }), FetchContract);
      const count = (re: RegExp) => (doc.text.match(re) ?? []).length;
      assert.equal(count(/^## Day \d+$/gm), 50);
      assert.equal(count(/^\s*- Ticket \d+-\d+: (resolved|escalated)$/gm), 1000);
      assert.equal(count(/^\s*Escalation note \d$/gm), 250);
      assert.equal(count(/^ {2}- Follow-up \d+$/gm), 500);
      assert.equal(count(/^1\. Retro item for day \d+$/gm), 50);
      // Sections stay in page order although their children were fetched side by side.
      const days = [...doc.text.matchAll(/^## Day (\d+)$/gm)].map((m) => Number(m[1]));
      assert.deepEqual(
        days,
        Array.from({ length: 50 }, (_, i) => i + 1),
      );
      assert.doesNotMatch(doc.text, /not read/);
      // 3 pages of top-level blocks + 50 toggles + 50 escalated tickets + 50 follow-up lists.
      assert.equal(childrenCalls(fixture), 153);
      assert.ok(fixture.maxInFlight > 1, 'children were fetched concurrently');
      assert.ok(fixture.maxInFlight <= 4, `at most 4 calls at once, saw ${fixture.maxInFlight}`);
    });

    test('a rate-limited call in the middle is retried and nothing is lost', async () => {
      fixture.fail({
        status: 429,
        code: 'rate_limited',
        message: 'You have been rate limited. Please try again in a few minutes.',
        retryAfter: '1',
        match: /^\/v1\/blocks\/(?!8192a3b4)/,
      });
      const doc = expectContract(await call(host, 'fetch', { id: IDS.supportLog }), FetchContract);
      assert.equal((doc.text.match(/Ticket \d+-\d+/g) ?? []).length, 1000);
      assert.equal(childrenCalls(fixture), 154);
      assert.deepEqual(sleeps, [1000]);
    });
  });

  describe('tokens', () => {
    test('no Authorization header: a tool error asking to connect Notion, no Notion call', async () => {
      const error = expectError(
        await call(host, 'search', { query: 'x' }, null),
        'notion_not_connected',
      );
      assert.match(String(error.message), /connect notion/i);
      assert.equal(fixture.requests.length, 0);
    });

    test('a non-Bearer Authorization header counts as no token', async () => {
      expectError(
        await call(host, 'fetch', { id: IDS.blockGallery }, null, {
          Authorization: `Basic ${Buffer.from('a:b').toString('base64')}`,
        }),
        'notion_not_connected',
      );
      assert.equal(fixture.requests.length, 0);
    });

    test('a token Notion rejects: a tool error asking to connect Notion again', async () => {
      const error = expectError(
        await call(host, 'fetch', { id: IDS.blockGallery }, 'ntn_revoked_token'),
        'notion_not_connected',
      );
      assert.match(String(error.message), /Connect Notion again/);
      assert.equal(fixture.requests.length, 1, 'no retry of a 401');
      assert.equal(fixture.requests[0]?.token, 'ntn_revoked_token');
    });

    test("each request uses its own token: interleaved users never see each other's pages", async () => {
      const rounds = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          call(host, 'search', { query: '' }, i % 2 === 0 ? ALICE_TOKEN : BOB_TOKEN),
        ),
      );
      rounds.forEach((answer, i) => {
        const { results } = SearchContract.parse(answer.json);
        if (i % 2 === 0) {
          assert.equal(results.length, 50);
        } else {
          assert.deepEqual(results.map((r) => r.title).sort(), ['Team Directory', 'Team Rituals']);
        }
      });
      const error = expectError(
        await call(host, 'fetch', { id: IDS.blockGallery }, BOB_TOKEN),
        'object_not_found',
      );
      assert.match(String(error.message), /shared with your integration/);
      expectContract(await call(host, 'fetch', { id: IDS.blockGallery }), FetchContract);
    });
  });

  describe('Notion errors', () => {
    test('429 with a short Retry-After is retried after the wait Notion asked for', async () => {
      fixture.fail({
        status: 429,
        code: 'rate_limited',
        message: 'You have been rate limited.',
        retryAfter: '2',
        times: 2,
      });
      const { results } = expectContract(
        await call(host, 'search', { query: 'onboarding' }),
        SearchContract,
      );
      assert.deepEqual(
        results.map((r) => r.id),
        [IDS.onboardingGuide],
      );
      assert.deepEqual(sleeps, [2000, 2000]);
      assert.equal(fixture.requests.length, 3);
    });

    test('529 service_overload is retried too', async () => {
      fixture.fail({
        status: 529,
        code: 'service_overload',
        message: 'Notion is overloaded.',
        retryAfter: '1',
      });
      expectContract(await call(host, 'fetch', { id: IDS.task(1) }), FetchContract);
      assert.deepEqual(sleeps, [1000]);
    });

    test('a Retry-After longer than the wait bound is reported at once with retry_after_seconds', async () => {
      fixture.fail({
        status: 429,
        code: 'rate_limited',
        message: 'You have been rate limited.',
        retryAfter: '45',
        rateLimitReason: 'workspace_limit',
      });
      const error = expectError(await call(host, 'search', { query: 'x' }), 'rate_limited');
      assert.equal(error.retry_after_seconds, 45);
      assert.equal(error.rate_limit_reason, 'workspace_limit');
      assert.deepEqual(sleeps, []);
      assert.equal(fixture.requests.length, 1);
    });

    test('retries are bounded: after NOTION_MAX_RETRIES the rate limit reaches the caller', async () => {
      fixture.fail({
        status: 429,
        code: 'rate_limited',
        message: 'You have been rate limited.',
        retryAfter: '1',
        times: 5,
      });
      const error = expectError(
        await call(host, 'fetch', { id: IDS.blockGallery }),
        'rate_limited',
      );
      assert.equal(error.retry_after_seconds, 1);
      assert.deepEqual(sleeps, [1000, 1000]);
      assert.equal(fixture.requests.length, 3);
    });

    test("an id nobody shared: Notion's code and message", async () => {
      const error = expectError(
        await call(host, 'fetch', { id: '00000000-0000-4000-8000-000000000000' }),
        'object_not_found',
      );
      assert.equal(error.status, 404);
      assert.match(String(error.message), /^Notion: Could not find page with ID/);
      // Tried as a page, a data source and a database.
      assert.deepEqual(
        fixture.requests.map((r) => r.path.split('/')[2]),
        ['pages', 'data_sources', 'databases'],
      );
    });

    test('other Notion errors keep their code', async () => {
      fixture.fail({ status: 503, code: 'service_unavailable', message: 'Notion is unavailable.' });
      const error = expectError(await call(host, 'search', { query: 'x' }), 'service_unavailable');
      assert.equal(error.status, 503);
      assert.equal(sleeps.length, 0);
    });

    test('an id that is not a Notion id is refused before calling Notion', async () => {
      expectError(await call(host, 'fetch', { id: '../../v1/users' }), 'invalid_id');
      assert.equal(fixture.requests.length, 0);
    });
  });
});
