import { html, trusted, type SafeHtml } from './html.js';
import { PAGE_STYLE } from './respond.js';

/** The page shell: title, the hashed inline style, and the body. */
export function layout(title: string, body: SafeHtml, options: { wide?: boolean } = {}): SafeHtml {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title} · Portcullis</title>
<style>${trusted(PAGE_STYLE)}</style>
</head>
<body>
<main${options.wide ? html` class="wide"` : ''}>
${body}
</main>
</body>
</html>
`;
}
