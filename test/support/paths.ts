import { fileURLToPath } from 'node:url';

/** The repository root (this file runs from `dist/test/support/`). */
export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

/** A path under the repository root. */
export function fromRoot(...parts: string[]): string {
  return [repoRoot.replace(/\/$/, ''), ...parts].join('/');
}
