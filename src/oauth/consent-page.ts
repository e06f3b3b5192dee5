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

export interface UpstreamFailedPageInput {
  readonly action: string;
  readonly csrf: string;
  readonly clientName: string;
  readonly serverName: string;
  /** What the provider (or the exchange) said, for the user. */
  readonly reason: string;
}

/** The upstream provider refused or failed: say so, then end the client's request with it. */
export function renderUpstreamFailed(input: UpstreamFailedPageInput): SafeHtml {
  return layout(
    'Connection failed',
    html`<h1>Could not connect ${input.serverName}</h1>
      <p>
        The service behind <strong>${input.serverName}</strong> did not give access:
        ${input.reason}.
      </p>
      <p class="who">
        <strong>${input.clientName}</strong> will be told that the authorization failed. Start again
        from it to retry.
      </p>
      <form method="post" action="${input.action}">
        <input type="hidden" name="csrf" value="${input.csrf}" />
        <input type="hidden" name="reason" value="${input.reason}" />
        <button type="submit" name="decision" value="upstream_failed">
          Return to ${input.clientName}
        </button>
      </form>`,
    { wide: true },
  );
}
