import { html, type SafeHtml } from './html.js';
import { layout } from './layout.js';

/**
 * `GET /.pomerium/sign_out`: asks before ending the session. Only the form's POST signs out, so
 * a link or a top-level navigation from another site cannot (session/sign-out.ts checks Origin).
 */
export function renderSignOutConfirm(input: { readonly action?: string } = {}): SafeHtml {
  return layout(
    'Sign out',
    html`<h1>Sign out</h1>
      <p>Sign out of Portcullis on this browser?</p>
      <form method="post" action="${input.action ?? '/.pomerium/sign_out'}">
        <button type="submit">Sign out</button>
      </form>`,
  );
}
