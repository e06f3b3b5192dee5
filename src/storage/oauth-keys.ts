/**
 * How OAuth records are keyed, shared by every backend so they store and refuse the same
 * things. Most OAuth ids are bearer tokens (access and refresh tokens, codes), so a row is
 * found by a hash of its id and the id itself is kept only where a lookup must return it.
 */
import { sha256Hex } from '../core/crypto.js';

/** The row key: SHA-256 (hex) of `model NUL id`. NUL cannot occur in a model name. */
export function oauthKey(model: string, id: string): string {
  return sha256Hex(`${model}\0${id}`);
}

/**
 * Models whose rows keep their plain id, because `findByUid` / `findByUserCode` must return
 * it (oidc-provider: `Session.findByUid`, `DeviceCode.findByUserCode`; interactions by uid).
 */
const BY_UID = new Set(['Session', 'Interaction']);
const BY_USER_CODE = new Set(['DeviceCode']);

/** Whether `model`'s rows store their plain id (every other model's id is stored hashed only). */
export function keepsPlainId(model: string): boolean {
  return BY_UID.has(model) || BY_USER_CODE.has(model);
}

/**
 * Rejects a lookup on a model that does not keep its id: the store could find the row but not
 * return the id, so the caller has a bug, not a miss.
 */
export function assertLookup(lookup: 'findByUid' | 'findByUserCode', model: string): void {
  const allowed = lookup === 'findByUid' ? BY_UID : BY_USER_CODE;
  if (!allowed.has(model)) {
    throw new TypeError(
      `OAuthStore.${lookup}: model ${JSON.stringify(model)} does not keep its id (only ${[...allowed].join(', ')})`,
    );
  }
}

/** The indexed references in a payload; anything but a non-empty string is not indexed. */
export function payloadRefs(payload: Record<string, unknown>): {
  grantId: string | null;
  uid: string | null;
  userCode: string | null;
  accountId: string | null;
} {
  const ref = (value: unknown) => (typeof value === 'string' && value !== '' ? value : null);
  return {
    grantId: ref(payload.grantId),
    uid: ref(payload.uid),
    userCode: ref(payload.userCode),
    accountId: ref(payload.accountId),
  };
}
