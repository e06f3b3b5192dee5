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
  const tree = new TreeLoad(api, options);
  const blocks = await tree.load(parentId, 1, false);
  const { blockCount, calls, truncated } = tree;
  return { blocks, blockCount, calls, ...(truncated ? { truncated } : {}) };
}

/** The state of one `fetchBlockTree`: the shared limiter and the counts across subtrees. */
class TreeLoad {
  blockCount = 0;
  calls = 0;
  truncated: BlockTree['truncated'];
  private readonly limiter;

  constructor(
    private readonly api: Pick<NotionApi, 'listChildren'>,
    private readonly options: TreeOptions,
  ) {
    this.limiter = createLimiter(options.concurrency);
  }

  private listPage(id: string, cursor: string | undefined, optional: boolean) {
    this.calls++;
    return this.limiter
      .run(() => this.api.listChildren(id, cursor), cursor !== undefined)
      .catch((err) => {
        if (!(optional && isNotShared(err))) this.limiter.abort(err);
        throw err;
      });
  }

  /** Every block under `id`, its children loading side by side. */
  async load(id: string, depth: number, optional: boolean): Promise<BlockNode[]> {
    const nodes: BlockNode[] = [];
    const childLoads: Promise<void>[] = [];
    let cursor: string | undefined;
    do {
      let page;
      try {
        page = await this.listPage(id, cursor, optional);
      } catch (err) {
        // A synced copy whose original is not shared with the integration: skip it.
        if (optional && isNotShared(err)) return nodes;
        throw err;
      }
      for (const item of page.results) {
        if (this.blockCount >= this.options.maxBlocks) {
          this.truncated = 'blocks';
          break;
        }
        this.add(item, depth, nodes, childLoads);
      }
      cursor = page.has_more && page.next_cursor ? page.next_cursor : undefined;
      if (cursor && this.blockCount >= this.options.maxBlocks) {
        this.truncated = 'blocks';
        cursor = undefined;
      }
    } while (cursor);
    await Promise.all(childLoads);
    return nodes;
  }

  /** Takes one listed item and starts loading its children when they belong to the page. */
  private add(
    item: Parameters<typeof isFullBlock>[0],
    depth: number,
    nodes: BlockNode[],
    childLoads: Promise<void>[],
  ): void {
    if (!isFullBlock(item)) return;
    this.blockCount++;
    const node: BlockNode = { block: item, children: [] };
    nodes.push(node);
    const source = childrenSource(item);
    if (!source) return;
    if (depth >= this.options.maxDepth) {
      this.truncated ??= 'depth';
      return;
    }
    const loading = this.load(source.id, depth + 1, source.optional).then((children) => {
      node.children = children;
    });
    // Handled by Promise.all in `load`; this keeps an early failure from counting as unhandled.
    loading.catch(() => {});
    childLoads.push(loading);
  }
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
