import { html, type SafeHtml } from './html.js';
import { layout } from './layout.js';

export interface ErrorPageInput {
  readonly title: string;
  /** For the user: what happened and what to do; never internal details. */
  readonly message: string;
  /** A request id or error code the user can quote to an administrator. */
  readonly reference?: string;
  /** A same-origin link to try again (e.g. `/`). */
  readonly retryHref?: string;
}

export function renderError(input: ErrorPageInput): SafeHtml {
  return layout(
    input.title,
    html`<h1>${input.title}</h1>
      <p>${input.message}</p>
      ${input.reference ? html`<p class="who">Reference: <code>${input.reference}</code></p>` : ''}
      ${input.retryHref ? html`<p><a href="${input.retryHref}">Try again</a></p>` : ''}`,
  );
}
