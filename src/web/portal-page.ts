import { html, type SafeHtml } from './html.js';
import { layout } from './layout.js';

export interface PortalUser {
  readonly email: string | null;
  readonly name: string | null;
  readonly sub: string;
}

export interface PortalServer {
  readonly name: string;
  readonly description?: string | null;
  /** The MCP URL users paste into their client. */
  readonly url: string;
}

/** The gateway's home page: who is signed in, and the MCP server URLs they can use. */
export function renderPortal(input: {
  readonly user: PortalUser;
  readonly servers: readonly PortalServer[];
  /** Where the sign-out form posts; default `/.pomerium/sign_out`. */
  readonly signOutAction?: string;
}): SafeHtml {
  const who = input.user.name ?? input.user.email ?? input.user.sub;
  const servers = input.servers.map(
    (s) =>
      html`<li>
        <strong>${s.name}</strong>${s.description ? html`<br />${s.description}` : ''} <br /><code
          >${s.url}</code
        >
      </li>`,
  );
  return layout(
    'MCP servers',
    html`<h1>MCP servers</h1>
      <p class="who">
        Signed in as <strong>${who}</strong>${
          input.user.email && input.user.email !== who ? html` (${input.user.email})` : ''
        }
      </p>
      ${
        servers.length > 0
          ? html`<ul class="servers">
              ${servers}
            </ul>`
          : html`<p>No MCP servers are configured.</p>`
      }
      <form method="post" action="${input.signOutAction ?? '/.pomerium/sign_out'}">
        <button type="submit" class="secondary">Sign out</button>
      </form>`,
    { wide: true },
  );
}
