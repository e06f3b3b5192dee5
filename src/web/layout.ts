import { html, trusted, type SafeHtml } from './html.js';
import { PAGE_STYLE } from './respond.js';

export interface LayoutOptions {
  readonly wide?: boolean;
  /** The referrer policy, as the page's headers say it (`PagePolicy.referrer`). */
  readonly referrer?: 'no-referrer' | 'same-origin';
  /** An inline script at the end of the body; the page's CSP must allow its hash. */
  readonly script?: string;
}

/** The page shell: title, the hashed inline style, the body, and an optional script. */
export function layout(title: string, body: SafeHtml, options: LayoutOptions = {}): SafeHtml {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="${options.referrer ?? 'no-referrer'}">
<title>${title} · Portcullis</title>
<style>${trusted(PAGE_STYLE)}</style>
</head>
<body>
<main${options.wide ? html` class="wide"` : ''}>
${body}
</main>
${options.script === undefined ? '' : scriptElement(options.script)}
</body>
</html>
`;
}

/** Built as text, not by `html`: the bytes must be exactly those the CSP hash was taken of. */
function scriptElement(script: string): SafeHtml {
  return trusted(`<script>${script}</script>`);
}
