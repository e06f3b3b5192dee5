import { html, type SafeHtml } from '../web/html.js';
import { layout } from '../web/layout.js';

export interface ConsentPageInput {
  /** Where the form posts (same origin). */
  readonly action: string;
  readonly csrf: string;
  /** What the client calls itself; unverified, so it is shown with where it comes from. */
  readonly clientName: string;
  /** The host of the client's metadata document, or of its redirect URI. */
  readonly clientHost: string;
  readonly redirectUri: string;
  readonly serverName: string;
  readonly resource: string;
  /** The signed-in account (email, else subject). */
  readonly account: string;
  readonly offline: boolean;
}

/** "Allow <client> to use <server> as <account>?" with `Allow` and `Deny`. */
export function renderConsent(input: ConsentPageInput): SafeHtml {
  return layout(
    'Allow access',
    html`<h1>Allow access?</h1>
      <p>
        <strong>${input.clientName}</strong> (from <code>${input.clientHost}</code>) wants to use
        the MCP server <strong>${input.serverName}</strong> (<code>${input.resource}</code>) as
        <strong>${input.account}</strong>.
      </p>
      <p class="who">
        If you allow it, you will be sent back to <code>${input.redirectUri}</code>. Allow only
        clients you started
        yourself.${input.offline ? ' It will stay connected until you revoke it.' : ''}
      </p>
      <form method="post" action="${input.action}">
        <input type="hidden" name="csrf" value="${input.csrf}" />
        <button type="submit" name="decision" value="allow">Allow</button>
        <button type="submit" name="decision" value="deny" class="secondary">Deny</button>
      </form>`,
    { wide: true },
  );
}
