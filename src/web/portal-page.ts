/**
 * The gateway's home page, the portal: who is signed in, the MCP servers they may reach (URL,
 * snippets, the upstream connection), and the MCP clients they authorized. Everything works
 * without script; the one inline script (allowed by its hash) only adds Copy buttons. Its forms
 * post to this origin, so the page's referrer policy is `same-origin`: browsers then send the
 * page's `Origin` with them, which the actions check (under `no-referrer` it would be `null`).
 */
import { html, type SafeHtml } from './html.js';
import { layout } from './layout.js';
import { renderClients, type PortalClient } from './portal/clients.js';
import { COPY_SCRIPT, COPY_SCRIPT_HASH } from './portal/copy-script.js';
import { renderServers, type PortalServer } from './portal/servers.js';
import type { PageOptions } from './respond.js';

export { PORTAL_REVOKE_PATH, type PortalClient } from './portal/clients.js';
export {
  PORTAL_DISCONNECT_PATH,
  type PortalConnection,
  type PortalServer,
} from './portal/servers.js';

export interface PortalUser {
  readonly email: string | null;
  readonly name: string | null;
  readonly sub: string;
}

/** What `sendPage` must send the portal with: its script allowed, its referrer policy. */
export const PORTAL_PAGE_OPTIONS: PageOptions = {
  scripts: [COPY_SCRIPT_HASH],
  referrer: 'same-origin',
};

export interface PortalInput {
  readonly user: PortalUser;
  readonly servers: readonly PortalServer[];
  /** Absent: the gateway has no OAuth server for MCP clients (no MCP server route). */
  readonly clients?: readonly PortalClient[];
  /** The outcome of the last action, or a failure reported back to this page. */
  readonly message?: { readonly kind: 'notice' | 'error'; readonly text: string };
  /** Where the sign-out form posts; default `/.pomerium/sign_out`. */
  readonly signOutAction?: string;
}

export function renderPortal(input: PortalInput): SafeHtml {
  const who = input.user.name ?? input.user.email ?? input.user.sub;
  const { message } = input;
  return layout(
    'MCP servers',
    html`<h1>MCP servers</h1>
      <p class="who">
        Signed in as <strong>${who}</strong>${
          input.user.email && input.user.email !== who ? html` (${input.user.email})` : ''
        }
      </p>
      ${message ? html`<p class="${message.kind}" role="status">${message.text}</p>` : ''}
      <h2>Your servers</h2>
      ${renderServers(input.servers)}
      ${
        input.clients
          ? html`<h2>MCP clients you authorized</h2>
              <p class="muted">
                Revoke ends a client’s tokens at once; it must ask you again to come back.
              </p>
              ${renderClients(input.clients)}`
          : ''
      }
      <form method="post" action="${input.signOutAction ?? '/.pomerium/sign_out'}">
        <button type="submit" class="secondary">Sign out</button>
      </form>`,
    { wide: true, referrer: 'same-origin', script: COPY_SCRIPT },
  );
}
