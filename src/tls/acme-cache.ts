/**
 * `autocert_dir`: a local copy of the certificates ACME gave, so a restarted gateway serves at
 * once, before storage is read, and an operator can see what is served. Storage stays the source
 * of truth: what it holds replaces the copy. One folder per ACME directory (a certificate from
 * staging is never taken for one from production), `<host>.crt` (the chain) and `<host>.key`
 * (mode 0600) in it.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CertificatePair } from './certificate.js';

export class CertificateCache {
  private readonly dir: string;

  constructor(root: string, directoryUrl: string) {
    const url = new URL(directoryUrl);
    // `acme-v02.api.letsencrypt.org-directory`, as certmagic names its folders.
    const name = `${url.host}${url.pathname}`.toLowerCase().replace(/[^a-z0-9.]+/g, '-');
    this.dir = join(root, name.replace(/^-+|-+$/g, ''));
  }

  /** The copy for `host`, or undefined when there is none (or it cannot be read). */
  async read(host: string): Promise<CertificatePair | undefined> {
    try {
      const [cert, key] = await Promise.all([
        readFile(this.file(host, 'crt'), 'utf8'),
        readFile(this.file(host, 'key'), 'utf8'),
      ]);
      return { cert, key };
    } catch {
      return undefined;
    }
  }

  /** Writes both files aside and renames them over the old ones (never a half-written file). */
  async write(host: string, pair: CertificatePair): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    for (const [ext, text, mode] of [
      ['key', pair.key, 0o600],
      ['crt', pair.cert, 0o644],
    ] as const) {
      const file = this.file(host, ext);
      await writeFile(`${file}.tmp`, text, { mode });
      await rename(`${file}.tmp`, file);
    }
  }

  private file(host: string, ext: 'crt' | 'key'): string {
    return join(this.dir, `${host}.${ext}`);
  }
}
