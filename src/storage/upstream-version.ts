/** The rule every backend's `UpstreamTokenStore.replace` enforces before it writes. */
import type { UpstreamTokenRecord } from './types.js';

/**
 * A replacement must raise the version. One that kept it would let a second writer holding the
 * same expected version win too, and the first writer's (rotated) refresh token would be lost.
 * A caller bug, so a `TypeError`.
 */
export function assertNewerVersion(token: UpstreamTokenRecord, expectedVersion: number): void {
  if (!Number.isSafeInteger(token.version) || token.version <= expectedVersion) {
    throw new TypeError(
      `replace: the new version (${token.version}) must be an integer above ${expectedVersion}`,
    );
  }
}
