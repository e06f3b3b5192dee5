import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { SafeHtml } from './html.js';

/** The one stylesheet of every page, inline and allowed by its hash (CSP Level 3 §8.3). */
export const PAGE_STYLE = [
  'body{font:15px/1.5 system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1d2330}',
  'main{max-width:28rem;margin:4rem auto;padding:2rem;background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.15)}',
  'main.wide{max-width:44rem}',
  'h1{font-size:1.4rem;margin:0 0 1rem}',
  'label{display:block;margin:.75rem 0 .25rem;font-weight:600}',
  'input{width:100%;box-sizing:border-box;padding:.5rem;font:inherit;border:1px solid #b8bfcc;border-radius:4px}',
  'button{margin-top:1.25rem;padding:.55rem 1.2rem;font:inherit;font-weight:600;color:#fff;background:#2f5bd3;border:0;border-radius:4px;cursor:pointer}',
  'button.secondary{background:#6b7385}',
  '.error{padding:.6rem .8rem;background:#fdecec;color:#8a1c1c;border-radius:4px}',
  'ul.servers{list-style:none;padding:0}ul.servers li{padding:.6rem 0;border-top:1px solid #e3e6ec}',
  'code{font-size:.9em;background:#eef0f4;padding:.1rem .3rem;border-radius:3px;word-break:break-all}',
  '.who{color:#4a5263}',
  // The portal's.
  'h2{font-size:1.1rem;margin:1.75rem 0 .5rem}h3{font-size:1rem;margin:0 0 .25rem}',
  '.card{padding:.9rem 0;border-top:1px solid #e3e6ec}.muted{color:#5c6475;font-size:.9em}',
  '.row{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center;margin:.35rem 0}',
  'button.small,a.small{margin:0;padding:.25rem .7rem;font-size:.85em}',
  'a.small{display:inline-block;color:#fff;background:#2f5bd3;border-radius:4px;font-weight:600;text-decoration:none}',
  'form.inline{display:inline;margin:0}',
  'pre{margin:.25rem 0 .75rem;padding:.6rem;background:#eef0f4;border-radius:4px;overflow-x:auto;font-size:.85em}',
  'pre code{padding:0;background:none}summary{cursor:pointer;margin:.35rem 0}',
  '.ok{color:#1c6b34;font-weight:600}.needs{color:#8a5a00;font-weight:600}',
  '.notice{padding:.6rem .8rem;background:#e8f3ea;color:#1c4d2a;border-radius:4px}',
  'table{width:100%;border-collapse:collapse;font-size:.95em}th,td{text-align:left;vertical-align:top;padding:.45rem .3rem;border-top:1px solid #e3e6ec}',
].join('');

const STYLE_HASH = `'sha256-${createHash('sha256').update(PAGE_STYLE).digest('base64')}'`;

/** The CSP source of an inline script: its SHA-256 (CSP Level 3 §8.3). */
export function scriptHash(script: string): string {
  return `'sha256-${createHash('sha256').update(script).digest('base64')}'`;
}

/** What a page may do besides the default (nothing runs, nothing loads, nothing frames). */
export interface PagePolicy {
  /** Origins besides 'self' a form on the page may submit to (redirects included). */
  readonly formActions?: readonly string[];
  /** Inline scripts allowed to run, as `scriptHash` sources. */
  readonly scripts?: readonly string[];
  /**
   * `same-origin` for a page whose forms post to its own origin, so browsers send that
   * `Origin` (Fetch §3.1: under `no-referrer` it is `null`); default `no-referrer`.
   */
  readonly referrer?: 'no-referrer' | 'same-origin';
}

export interface PageOptions extends PagePolicy {
  readonly headers?: Readonly<Record<string, string>>;
}

/** The Content-Security-Policy of our pages: nothing runs, nothing loads, nothing frames. */
export function pageCsp(formActions: readonly string[] = [], scripts: readonly string[] = []) {
  return [
    "default-src 'none'",
    `style-src ${STYLE_HASH}`,
    ...(scripts.length > 0 ? [`script-src ${scripts.join(' ')}`] : []),
    `form-action ${["'self'", ...formActions].join(' ')}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
}

/** Security headers every page carries (also applied to oidc-provider's own pages). */
export function pageHeaders(
  formActions: readonly string[] = [],
  policy: Omit<PagePolicy, 'formActions'> = {},
): Record<string, string> {
  return {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy': pageCsp(formActions, policy.scripts),
    'x-frame-options': 'DENY',
    'referrer-policy': policy.referrer ?? 'no-referrer',
    'x-content-type-options': 'nosniff',
  };
}

/** Sends a rendered page (a no-op when the response has already started). */
export function sendPage(
  res: ServerResponse,
  status: number,
  page: SafeHtml,
  options: PageOptions = {},
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = page.value;
  res.writeHead(status, {
    ...options.headers,
    ...pageHeaders(options.formActions, options),
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}
