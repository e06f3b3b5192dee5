/**
 * What an authorization asks the user to allow, read from the interaction's parameters: the
 * client (as the provider knows it), where the code goes, the MCP resource and the scopes.
 */
import type { InteractionDetails, OidcProvider } from '../oidc/provider-module.js';
import { consentClientKey } from './client-identity.js';

export interface Subject {
  readonly clientId: string;
  readonly clientName: string;
  /** The host of the client's metadata document, or of its redirect URI. */
  readonly clientHost: string;
  /** `ConsentRecord.clientKey` of this client and redirect URI. */
  readonly clientKey: string;
  readonly redirectUri: string;
  readonly resource: string;
  /** `mcp`, and `offline_access` when asked for. */
  readonly scopes: readonly string[];
}

/**
 * The subject of the interaction, or undefined when the client is unknown, the redirect URI
 * missing or the resource not one of this host's.
 */
export async function subjectOf(
  provider: OidcProvider,
  resources: ReadonlyMap<string, string>,
  details: InteractionDetails,
): Promise<Subject | undefined> {
  const params = details.params;
  const clientId = typeof params.client_id === 'string' ? params.client_id : '';
  const client = await provider.Client.find(clientId);
  if (client === undefined) return undefined;
  const redirectUri =
    typeof params.redirect_uri === 'string' ? params.redirect_uri : client.redirectUris[0];
  const resource = typeof params.resource === 'string' ? params.resource : undefined;
  if (redirectUri === undefined || resource === undefined || !resources.has(resource)) {
    return undefined;
  }
  const requested = typeof params.scope === 'string' ? params.scope.split(' ').filter(Boolean) : [];
  return {
    clientId,
    clientName: client.clientName?.trim() || 'An unnamed MCP client',
    clientHost: client.clientIdMetadataDocument
      ? new URL(client.clientId).host
      : hostOf(redirectUri),
    clientKey: consentClientKey(clientId, redirectUri),
    redirectUri,
    resource,
    scopes: ['mcp', ...requested.filter((s) => s === 'offline_access')],
  };
}

function hostOf(uri: string): string {
  try {
    const url = new URL(uri);
    return url.host || url.protocol;
  } catch {
    return uri;
  }
}
