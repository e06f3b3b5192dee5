/**
 * The portal's list of the MCP clients the person authorized: name, where its codes go, the
 * servers it may use, when it was authorized and last got a token, and Revoke (a form), which
 * ends its tokens and forgets the consent.
 */
import { html, type SafeHtml } from '../html.js';
import { utc } from './servers.js';

export const PORTAL_REVOKE_PATH = '/.pomerium/portal/revoke';

export interface PortalClient {
  /** What Revoke names (`AuthorizedClient.key`). */
  readonly key: string;
  readonly name: string;
  readonly host: string | null;
  /** The names of the servers it may use. */
  readonly servers: readonly string[];
  readonly authorizedAt: number;
  readonly lastUsedAt: number | null;
  /** Whether it holds tokens that work now. */
  readonly active: boolean;
}

export function renderClients(clients: readonly PortalClient[]): SafeHtml {
  if (clients.length === 0) return html`<p>You have not authorized any MCP client yet.</p>`;
  return html`<table class="clients">
    <thead>
      <tr>
        <th>Client</th>
        <th>Servers</th>
        <th>Authorized</th>
        <th>Last used</th>
        <th></th>
      </tr>
    </thead>
    <tbody>
      ${clients.map(renderClient)}
    </tbody>
  </table>`;
}

function renderClient(client: PortalClient): SafeHtml {
  return html`<tr>
    <td>
      <strong>${client.name}</strong>
      ${client.host ? html`<br /><span class="muted">redirects to ${client.host}</span>` : ''}
    </td>
    <td>${client.servers.join(', ')}</td>
    <td>${utc(client.authorizedAt)}</td>
    <td>
      ${client.lastUsedAt === null ? 'not yet' : utc(client.lastUsedAt)}
      ${client.active ? '' : html`<br /><span class="muted">no live token</span>`}
    </td>
    <td>
      <form class="inline" method="post" action="${PORTAL_REVOKE_PATH}">
        <input type="hidden" name="client" value="${client.key}" />
        <button type="submit" class="small">Revoke</button>
      </form>
    </td>
  </tr>`;
}
