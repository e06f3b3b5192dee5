/**
 * The portal's list of MCP servers: for each, its URL with a Copy button, its connection to
 * the upstream service it needs (Connect, Disconnect), and the snippets that add it to an MCP
 * client. Connect is a link (the connect endpoint sends the browser through the provider and
 * back); Disconnect is a form, so both work without script.
 */
import { html, type SafeHtml } from '../html.js';
import { clientSnippets } from './snippets.js';

export const PORTAL_DISCONNECT_PATH = '/.pomerium/portal/disconnect';

export interface PortalServer {
  readonly name: string;
  readonly description?: string | null;
  /** The MCP URL users paste into their client. */
  readonly url: string;
  /** Its upstream service's connection, when it needs one. */
  readonly upstream?: PortalConnection;
}

export interface PortalConnection {
  readonly connected: boolean;
  /** When the upstream token expires (RFC 3339), when known. */
  readonly expiresAt?: string;
  /** Whether the gateway holds a refresh token to renew it. */
  readonly renews: boolean;
  /** The connect endpoint, with this page to come back to. */
  readonly connectUrl: string;
}

export function renderServers(servers: readonly PortalServer[]): SafeHtml {
  if (servers.length === 0) return html`<p>No MCP servers are configured for you.</p>`;
  return html`${servers.map((server, i) => renderServer(server, `server-${i}`))}`;
}

function renderServer(server: PortalServer, id: string): SafeHtml {
  const snippets = clientSnippets(server.name, server.url).map(
    (s, i) =>
      html`<p class="row">
          <strong>${s.client}</strong
          ><span class="muted">${s.where}</span>${copyButton(`${id}-snippet-${i}`)}
        </p>
        <pre><code id="${id}-snippet-${i}">${s.text}</code></pre>`,
  );
  return html`<section class="card" id="${id}">
    <h3>${server.name}</h3>
    ${server.description ? html`<p class="muted">${server.description}</p>` : ''}
    <p class="row"><code id="${id}-url">${server.url}</code>${copyButton(`${id}-url`)}</p>
    <p class="row">${connection(server)}</p>
    <details>
      <summary>Add it to Claude Code, VS Code or Cursor</summary>
      ${snippets}
    </details>
  </section>`;
}

/** Shown by the copy script; without script the text is there to select. */
function copyButton(target: string): SafeHtml {
  return html`<button type="button" class="small secondary" data-copy="${target}" hidden>
    Copy
  </button>`;
}

function connection(server: PortalServer): SafeHtml {
  const { upstream } = server;
  if (upstream === undefined) {
    return html`<span class="ok">Ready</span><span class="muted">needs no other sign-in</span>`;
  }
  if (!upstream.connected) {
    return html`<span class="needs">Not connected</span>
      <span class="muted">its service needs your consent first</span>
      <a class="small" href="${upstream.connectUrl}">Connect</a>`;
  }
  const expiry = upstream.expiresAt
    ? html`; token expires
        <time datetime="${upstream.expiresAt}">${utc(upstream.expiresAt)}</time
        >${upstream.renews ? ', renewed automatically' : ''}`
    : '';
  return html`<span class="ok">Connected</span>
    <span class="muted">to its service${expiry}</span>
    <form class="inline" method="post" action="${PORTAL_DISCONNECT_PATH}">
      <input type="hidden" name="route" value="${server.url}" />
      <button type="submit" class="small secondary">Disconnect</button>
    </form>`;
}

/** A time as people read it, in UTC (the page knows no time zone). */
export function utc(at: string | number): string {
  return `${new Date(at).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}
