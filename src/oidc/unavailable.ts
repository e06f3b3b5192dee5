/**
 * oidc-provider turns anything an action throws that is not its own error into `server_error`
 * 500, storage failures included. Its `server_error` event fires after the answer is set and
 * before it is sent: there, an unreachable storage becomes the gateway's one 503 answer
 * (`core/unavailable.ts`), a page if oidc-provider rendered one, else the RFC 6749 body.
 */
import {
  STORAGE_UNAVAILABLE_HEADERS,
  STORAGE_UNAVAILABLE_OAUTH,
  STORAGE_UNAVAILABLE_STATUS,
} from '../core/unavailable.js';
import { isStorageUnavailable } from '../storage/errors.js';
import { renderUnavailable } from '../web/unavailable-page.js';
import type { ProviderContext } from './provider-module.js';

/** Rewrites the answer when `err` says storage is unavailable; true when it did. */
export function answerStorageUnavailable(ctx: ProviderContext, err: unknown): boolean {
  if (!isStorageUnavailable(err)) return false;
  const page = /html/.test(ctx.type);
  ctx.status = STORAGE_UNAVAILABLE_STATUS;
  ctx.set({ ...STORAGE_UNAVAILABLE_HEADERS });
  ctx.body = page ? renderUnavailable().value : { ...STORAGE_UNAVAILABLE_OAUTH };
  return true;
}
