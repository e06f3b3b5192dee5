import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  APIErrorCode,
  APIResponseError,
  type BlockObjectResponse,
  type ListBlockChildrenResponse,
} from '@notionhq/client';
import { fetchBlockTree, type BlockNode } from './block-tree.js';

type Raw = { id: string; type: string; children?: Raw[]; data?: unknown };

/** An in-memory block store answering like `GET /v1/blocks/{id}/children`. */
function fakeApi(roots: Raw[], pageSize = 3) {
  const children = new Map<string, BlockObjectResponse[]>();
  const add = (parent: string, list: Raw[]) => {
    children.set(
      parent,
      list.map((raw) => {
        if (raw.children) add(raw.id, raw.children);
        return {
          object: 'block',
          id: raw.id,
          type: raw.type,
          [raw.type]: raw.data ?? {},
          has_children: (raw.children?.length ?? 0) > 0,
        } as unknown as BlockObjectResponse;
      }),
    );
  };
  add('root', roots);
  let inFlight = 0;
  const stats = { calls: [] as string[], maxInFlight: 0, fail: new Map<string, unknown>() };
  const api = {
    async listChildren(id: string, cursor?: string): Promise<ListBlockChildrenResponse> {
      stats.calls.push(cursor ? `${id}@${cursor}` : id);
      inFlight++;
      stats.maxInFlight = Math.max(stats.maxInFlight, inFlight);
      await new Promise((r) => setTimeout(r, 1));
      inFlight--;
      if (stats.fail.has(id)) throw stats.fail.get(id);
      const list = children.get(id);
      if (!list) throw notFound();
      const start = cursor ? list.findIndex((b) => b.id === cursor) : 0;
      const results = list.slice(start, start + pageSize);
      const next = list[start + pageSize];
      return {
        object: 'list',
        type: 'block',
        block: {},
        results,
        next_cursor: next ? next.id : null,
        has_more: next !== undefined,
      };
    },
  };
  return { api, stats };
}

function notFound() {
  return new APIResponseError({
    code: APIErrorCode.ObjectNotFound,
    status: 404,
    message: 'Could not find block',
    headers: new Headers(),
    rawBodyText: '',
    additional_data: undefined,
    request_id: undefined,
  });
}

const leaf = (id: string): Raw => ({ id, type: 'paragraph' });
const ids = (nodes: BlockNode[]): unknown[] =>
  nodes.map((n) => (n.children.length ? [n.block.id, ids(n.children)] : n.block.id));
const options = { concurrency: 3, maxDepth: 10, maxBlocks: 1000 };

test('reads every level through every cursor and keeps the order', async () => {
  const { api, stats } = fakeApi([
    leaf('a'),
    { id: 'b', type: 'toggle', children: [leaf('b1'), leaf('b2'), leaf('b3'), leaf('b4')] },
    leaf('c'),
    {
      id: 'd',
      type: 'bulleted_list_item',
      children: [{ id: 'd1', type: 'toggle', children: [leaf('d11')] }],
    },
  ]);
  const tree = await fetchBlockTree(api, 'root', options);
  assert.deepEqual(ids(tree.blocks), [
    'a',
    ['b', ['b1', 'b2', 'b3', 'b4']],
    'c',
    ['d', [['d1', ['d11']]]],
  ]);
  assert.equal(tree.blockCount, 10);
  assert.equal(tree.truncated, undefined);
  assert.deepEqual([...stats.calls].sort(), ['b', 'b@b4', 'd', 'd1', 'root', 'root@d'].sort());
  assert.equal(tree.calls, 6);
});

test('never has more than `concurrency` calls in flight, but does overlap them', async () => {
  const wide = Array.from({ length: 12 }, (_, i) => ({
    id: `t${i}`,
    type: 'toggle',
    children: [leaf(`t${i}a`), leaf(`t${i}b`)],
  }));
  const { api, stats } = fakeApi(wide);
  await fetchBlockTree(api, 'root', { ...options, concurrency: 3 });
  assert.equal(stats.maxInFlight, 3);
  const one = fakeApi(wide);
  await fetchBlockTree(one.api, 'root', { ...options, concurrency: 1 });
  assert.equal(one.stats.maxInFlight, 1);
});

test('stops at maxDepth and reports it', async () => {
  const chain: Raw = {
    id: 'l1',
    type: 'toggle',
    children: [
      {
        id: 'l2',
        type: 'toggle',
        children: [{ id: 'l3', type: 'toggle', children: [leaf('l4')] }],
      },
    ],
  };
  const { api, stats } = fakeApi([chain]);
  const tree = await fetchBlockTree(api, 'root', { ...options, maxDepth: 2 });
  assert.deepEqual(ids(tree.blocks), [['l1', ['l2']]]);
  assert.equal(tree.truncated, 'depth');
  assert.deepEqual(stats.calls.sort(), ['l1', 'root']);
});

test('stops asking Notion once maxBlocks blocks are in', async () => {
  const { api, stats } = fakeApi(Array.from({ length: 20 }, (_, i) => leaf(`p${i}`)));
  const tree = await fetchBlockTree(api, 'root', { ...options, maxBlocks: 7 });
  assert.equal(tree.blockCount, 7);
  assert.equal(tree.truncated, 'blocks');
  assert.equal(stats.calls.length, 3, 'pages of 3: 3 + 3 + 1 kept, no fourth call');
});

test('child pages and databases are not descended into; a synced copy reads its original', async () => {
  const { api, stats } = fakeApi([
    { id: 'cp', type: 'child_page', data: { title: 'Sub' }, children: [leaf('hidden')] },
    { id: 'orig', type: 'synced_block', data: { synced_from: null }, children: [leaf('shared')] },
    {
      id: 'copy',
      type: 'synced_block',
      data: { synced_from: { type: 'block_id', block_id: 'orig' } },
    },
    {
      id: 'lost',
      type: 'synced_block',
      data: { synced_from: { type: 'block_id', block_id: 'gone' } },
    },
  ]);
  const tree = await fetchBlockTree(api, 'root', options);
  assert.deepEqual(ids(tree.blocks), ['cp', ['orig', ['shared']], ['copy', ['shared']], 'lost']);
  assert.ok(!stats.calls.includes('cp'));
  assert.ok(stats.calls.includes('gone'), 'an unshared original is skipped, not fatal');
});

test('the first failure rejects the walk and no queued call starts afterwards', async () => {
  const wide = Array.from({ length: 30 }, (_, i) => ({
    id: `t${i}`,
    type: 'toggle',
    children: [leaf(`c${i}`)],
  }));
  const { api, stats } = fakeApi(wide, 100);
  const boom = new APIResponseError({
    code: APIErrorCode.RateLimited,
    status: 429,
    message: 'slow down',
    headers: new Headers(),
    rawBodyText: '',
    additional_data: undefined,
    request_id: undefined,
  });
  stats.fail.set('t0', boom);
  await assert.rejects(
    fetchBlockTree(api, 'root', { ...options, concurrency: 2 }),
    (e) => e === boom,
  );
  await new Promise((r) => setTimeout(r, 20));
  assert.ok(stats.calls.length < 6, `calls after the failure: ${stats.calls.join(', ')}`);
});
