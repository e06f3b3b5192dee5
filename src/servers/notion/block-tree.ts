import {
  APIErrorCode,
  APIResponseError,
  isFullBlock,
  type BlockObjectResponse,
} from '@notionhq/client';
import type { NotionApi } from './api.js';
import { createLimiter } from './limiter.js';

export interface BlockNode {
  readonly block: BlockObjectResponse;
  children: BlockNode[];
}

export interface TreeOptions {
  /** Notion calls in flight at once. */
  readonly concurrency: number;
  /** Levels fetched: 1 = the parent's own children only. */
  readonly maxDepth: number;
  /** Blocks kept in all; the walk stops asking Notion once it has this many. */
  readonly maxBlocks: number;
}

export interface BlockTree {
  readonly blocks: BlockNode[];
  /** Why part of the content was not fetched, when it was not. */
  readonly truncated?: 'depth' | 'blocks';
  readonly blockCount: number;
  /** Block-children calls made (pages of 100 count one each). */
  readonly calls: number;
}

/**
 * Fetches every block under `parentId`, children included. Each list of children is read
 * through its cursor in order, and as soon as a page of blocks arrives their own children are
 * requested, so independent subtrees load side by side; at most `concurrency` calls are in
 * flight, and the next page of a cursor goes ahead of queued calls since everything after it
 * waits on it. The first failure stops every queued call.
 */
export async function fetchBlockTree(
  api: Pick<NotionApi, 'listChildren'>,
  parentId: string,
  options: TreeOptions,
): Promise<BlockTree> {
  const limiter = createLimiter(options.concurrency);
  let blockCount = 0;
  let calls = 0;
  let truncated: BlockTree['truncated'];

  const listPage = (id: string, cursor: string | undefined, optional: boolean) => {
    calls++;
    return limiter
      .run(() => api.listChildren(id, cursor), cursor !== undefined)
      .catch((err) => {
        if (!(optional && isNotShared(err))) limiter.abort(err);
        throw err;
      });
  };

  const load = async (id: string, depth: number, optional: boolean): Promise<BlockNode[]> => {
    const nodes: BlockNode[] = [];
    const childLoads: Promise<void>[] = [];
    let cursor: string | undefined;
    do {
      let page;
      try {
        page = await listPage(id, cursor, optional);
      } catch (err) {
        // A synced copy whose original is not shared with the integration: skip it.
        if (optional && isNotShared(err)) return nodes;
        throw err;
      }
      for (const item of page.results) {
        if (blockCount >= options.maxBlocks) {
          truncated = 'blocks';
          break;
        }
        if (!isFullBlock(item)) continue;
        blockCount++;
        const node: BlockNode = { block: item, children: [] };
        nodes.push(node);
        const source = childrenSource(item);
        if (!source) continue;
        if (depth >= options.maxDepth) {
          truncated ??= 'depth';
          continue;
        }
        const loading = load(source.id, depth + 1, source.optional).then((children) => {
          node.children = children;
        });
        // Handled by Promise.all below; this keeps an early failure from counting as unhandled.
        loading.catch(() => {});
        childLoads.push(loading);
      }
      cursor = page.has_more && page.next_cursor ? page.next_cursor : undefined;
      if (cursor && blockCount >= options.maxBlocks) {
        truncated = 'blocks';
        cursor = undefined;
      }
    } while (cursor);
    await Promise.all(childLoads);
    return nodes;
  };

  const blocks = await load(parentId, 1, false);
  return { blocks, blockCount, calls, ...(truncated ? { truncated } : {}) };
}

/**
 * Where a block's children come from, or undefined when they are not part of this page:
 * child pages and databases are their own documents and are rendered as links. A synced
 * copy shows the content of its original ("Synced block": `synced_from.block_id`).
 */
export function childrenSource(
  block: BlockObjectResponse,
): { id: string; optional: boolean } | undefined {
  if (block.type === 'child_page' || block.type === 'child_database') return undefined;
  if (block.type === 'synced_block' && block.synced_block.synced_from) {
    return { id: block.synced_block.synced_from.block_id, optional: true };
  }
  return block.has_children ? { id: block.id, optional: false } : undefined;
}

function isNotShared(err: unknown): boolean {
  return (
    APIResponseError.isAPIResponseError(err) &&
    (err.code === APIErrorCode.ObjectNotFound || err.code === APIErrorCode.RestrictedResource)
  );
}
