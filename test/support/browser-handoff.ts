/**
 * The "system browser" of a CLI MCP client under test: an executable that writes the URL it
 * is asked to open to a file, installed as `xdg-open` first on PATH and as `$BROWSER` (what
 * the `open` package's bundled xdg-open runs when there is no desktop). The test then takes
 * each URL and opens it in Chromium itself.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface BrowserHandoff {
  /** Environment for the child: PATH and BROWSER set, no display, no desktop. */
  env(base?: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
  /** The next URL a client asked to open (waits for it). */
  nextUrl(timeoutMs?: number): Promise<URL>;
  close(): void;
}

export function startBrowserHandoff(): BrowserHandoff {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-browser-'));
  const urls = join(dir, 'urls.txt');
  const opener = join(dir, 'xdg-open');
  writeFileSync(urls, '');
  writeFileSync(opener, `#!/bin/sh\nprintf '%s\\n' "$1" >> '${urls}'\n`);
  chmodSync(opener, 0o755);
  let taken = 0;
  return {
    env: (base = process.env) => {
      const env: NodeJS.ProcessEnv = {
        ...base,
        PATH: `${dir}:${base.PATH ?? ''}`,
        BROWSER: opener,
      };
      for (const name of ['DISPLAY', 'WAYLAND_DISPLAY', 'XDG_CURRENT_DESKTOP', 'DESKTOP_SESSION'])
        delete env[name];
      return env;
    },
    async nextUrl(timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const lines = readFileSync(urls, 'utf8').split('\n').filter(Boolean);
        const next = lines[taken];
        if (next !== undefined) {
          taken++;
          return new URL(next);
        }
        if (Date.now() > deadline) throw new Error('the client never opened a browser');
        await sleep(50);
      }
    },
    close: () => rmSync(dir, { recursive: true, force: true }),
  };
}
