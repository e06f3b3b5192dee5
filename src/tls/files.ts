/**
 * Certificates kept in files, re-read when the files change, with no restart. Changes are found
 * by polling each file's identity (inode, size, modification time) every few seconds: fs.watch
 * misses the usual ways certificates are replaced (a rename over the file, a Kubernetes secret's
 * symlink swap, a network file system), while a stat of two files every 2 s costs nothing.
 */
import { readFileSync, statSync, type Stats } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { CertificateError, prepareCertificate, type ServedCertificate } from './certificate.js';
import type { CertificateStore } from './store.js';

export interface CertificateFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

/** What the two files looked like when read: a change of either means read them again. */
export type FilesSignature = string;

export interface LoadedFiles {
  readonly served: ServedCertificate;
  readonly signature: FilesSignature;
}

/**
 * Reads and checks a pair of files (at start, where a problem stops the gateway). The signature
 * is taken before reading, so a change made while reading is seen by the next poll.
 */
export function loadCertificateFiles(files: CertificateFiles): LoadedFiles {
  const signature = signatureOf(
    statOrThrow(files.certFile, 'cert'),
    statOrThrow(files.keyFile, 'key'),
  );
  const cert = readOrThrow(files.certFile, 'cert');
  const key = readOrThrow(files.keyFile, 'key');
  return { served: prepareCertificate({ cert, key }), signature };
}

export interface WatchedFiles extends CertificateFiles {
  /** The store entry the files feed. */
  readonly id: string;
  /** The signature of what the store holds now. */
  readonly signature: FilesSignature;
}

export interface WatchOptions {
  /** How often the files are looked at; 2 s, so a change is served within about 4 s. */
  readonly intervalMs?: number;
  readonly onReloaded?: (id: string, served: ServedCertificate, files: CertificateFiles) => void;
  /** Once per broken version of the files; the certificate served before stays. */
  readonly onError?: (id: string, err: Error, files: CertificateFiles) => void;
}

/**
 * Polls `watched` and puts each pair into `store` again once it has changed and then held still
 * for one interval: certificate and key are rarely written in one step, and a half-replaced pair
 * (new certificate, old key) read in between would be a false alarm. Returns the stop.
 */
export function watchCertificateFiles(
  store: CertificateStore,
  watched: readonly WatchedFiles[],
  options: WatchOptions = {},
): () => void {
  const state = watched.map((w) => ({ ...w, pending: '', failed: '' }));
  let running = false;
  const poll = async () => {
    if (running) return;
    running = true;
    try {
      for (const entry of state) await check(store, entry, options);
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void poll(), options.intervalMs ?? 2_000);
  timer.unref();
  return () => clearInterval(timer);
}

interface EntryState extends WatchedFiles {
  signature: FilesSignature;
  /** Seen once, not yet read: read when the next poll sees the same. */
  pending: FilesSignature;
  /** Read and found broken (reported): not read again until it changes. */
  failed: FilesSignature;
}

async function check(store: CertificateStore, entry: EntryState, options: WatchOptions) {
  let now: FilesSignature;
  try {
    now = signatureOf(await stat(entry.certFile), await stat(entry.keyFile));
  } catch {
    // Missing for a moment while being replaced, or gone: keep serving what was read before.
    now = 'unreadable';
  }
  if (now === entry.signature || now === entry.failed) return;
  if (now !== entry.pending) {
    entry.pending = now;
    return;
  }
  entry.pending = '';
  try {
    const served = prepareCertificate({
      cert: await readOrReject(entry.certFile, 'cert'),
      key: await readOrReject(entry.keyFile, 'key'),
    });
    store.put(entry.id, served);
    entry.signature = now;
    entry.failed = '';
    options.onReloaded?.(entry.id, served, entry);
  } catch (err) {
    entry.failed = now;
    options.onError?.(entry.id, err as Error, entry);
  }
}

function signatureOf(cert: Stats, key: Stats): FilesSignature {
  const one = (s: Stats) => `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;
  return `${one(cert)}|${one(key)}`;
}

function statOrThrow(path: string, part: 'cert' | 'key'): Stats {
  try {
    return statSync(path);
  } catch (err) {
    throw unreadable(path, part, err);
  }
}

function readOrThrow(path: string, part: 'cert' | 'key'): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw unreadable(path, part, err);
  }
}

async function readOrReject(path: string, part: 'cert' | 'key'): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw unreadable(path, part, err);
  }
}

function unreadable(path: string, part: 'cert' | 'key', err: unknown): CertificateError {
  const code = (err as NodeJS.ErrnoException).code ?? String(err);
  return new CertificateError(part, `cannot read ${path}: ${code}`);
}
