/**
 * The MCP authorization server's interaction: sign-in through the gateway (its session cookie)
 * and the consent page. The gateway session is the truth: every authorization passes here
 * (`loadExistingGrant` never skips it), so a signed-out user is asked to sign in again.
 *
 * Each grant is recorded with the gateway session it was made under (`grant-session.ts`): its
 * tokens die with that session.
 *
 * Consent is remembered per user, MCP resource, client_id and redirect URI
 * (`consentClientKey`); the form is CSRF-protected by an HMAC bound to the interaction and the
 * session, on top of oidc-provider's interaction cookie (SameSite=Lax). A `prompt=none`
 * request (`isSilent`) is answered without a page: a code when signed in and consented, else
 * `login_required` or `consent_required` (OIDC Core §3.1.2.6).
 */
import { createHmac } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { timingSafeEqualString } from '../core/crypto.js';
import { FormError, readForm } from '../idp/form.js';
import type { InteractionDetails, OidcProvider } from '../idp/oidc-provider-module.js';
import type { SessionLogger } from '../session/manager.js';
import type { ConsentStore, IdentityStore, OAuthStore, SessionRecord } from '../storage/types.js';
import { renderError } from '../web/error-page.js';
import { sendPage } from '../web/respond.js';
import { isSilent } from './authorization-request.js';
import { consentClientKey } from './client-identity.js';
import { renderConsent } from './consent-page.js';
import { recordGrantSession } from './grant-session.js';
import { formActionSource } from './redirect-uris.js';

export const INTERACTION_PREFIX = '/.pomerium/mcp/interaction/';

export interface InteractionDeps {
  readonly provider: OidcProvider;
  readonly authenticate: (req: IncomingMessage) => Promise<SessionRecord | undefined>;
  readonly startSignIn: (
    req: IncomingMessage,
    res: ServerResponse,
    returnTo: string,
  ) => Promise<void>;
  readonly consents: ConsentStore;
  readonly identities: IdentityStore;
  /** Where the grant's gateway session is recorded. */
  readonly oauth: OAuthStore;
  /** The grant's life (seconds), for its session record. */
  readonly grantLifetime: number;
  /** Resource URL → the server's name, for this issuer. */
  readonly resources: ReadonlyMap<string, string>;
  readonly csrfKey: Buffer;
  readonly now: () => number;
  readonly logger: SessionLogger;
}

interface Subject {
  readonly clientId: string;
  readonly clientName: string;
  readonly clientHost: string;
  readonly clientKey: string;
  readonly redirectUri: string;
  readonly resource: string;
  readonly scopes: readonly string[];
}

export function createInteractionHandler(deps: InteractionDeps) {
  const fail = (res: ServerResponse, status: number, message: string) =>
    sendPage(res, status, renderError({ title: 'Authorization failed', message }));

  /** Ends the interaction with an OAuth error at the client's (already checked) redirect URI. */
  const refuse = (req: IncomingMessage, res: ServerResponse, error: string, description: string) =>
    deps.provider.interactionFinished(
      req,
      res,
      { error, error_description: description },
      { mergeWithLastSubmission: false },
    );

  const csrfFor = (uid: string, session: SessionRecord) =>
    createHmac('sha256', deps.csrfKey).update(`${uid}\0${session.idHash}`).digest('base64url');

  async function subjectOf(details: InteractionDetails): Promise<Subject | undefined> {
    const params = details.params;
    const clientId = typeof params.client_id === 'string' ? params.client_id : '';
    const client = await deps.provider.Client.find(clientId);
    if (client === undefined) return undefined;
    const redirectUri =
      typeof params.redirect_uri === 'string' ? params.redirect_uri : client.redirectUris[0];
    const resource = typeof params.resource === 'string' ? params.resource : undefined;
    if (redirectUri === undefined || resource === undefined || !deps.resources.has(resource)) {
      return undefined;
    }
    const clientName = client.clientName?.trim() || 'An unnamed MCP client';
    const clientHost = client.clientIdMetadataDocument
      ? new URL(client.clientId).host
      : hostOf(redirectUri);
    const requested =
      typeof params.scope === 'string' ? params.scope.split(' ').filter(Boolean) : [];
    return {
      clientId,
      clientName,
      clientHost,
      clientKey: consentClientKey(clientId, redirectUri),
      redirectUri,
      resource,
      scopes: ['mcp', ...requested.filter((s) => s === 'offline_access')],
    };
  }

  async function approve(
    req: IncomingMessage,
    res: ServerResponse,
    session: SessionRecord,
    subject: Subject,
  ) {
    const now = deps.now();
    await deps.identities.put({
      sub: session.sub,
      email: session.email,
      name: session.name,
      groups: session.groups,
      claims: session.claims,
      updatedAt: now,
    });
    const grant = new deps.provider.Grant({ accountId: session.sub, clientId: subject.clientId });
    grant.addResourceScope(subject.resource, 'mcp');
    // `mcp` and `offline_access` are also provider-wide scopes (clients register with them).
    grant.addOIDCScope(subject.scopes.join(' '));
    const grantId = await grant.save();
    await recordGrantSession(deps.oauth, grantId, session.idHash, now + deps.grantLifetime * 1000);
    deps.logger.info(
      { sub: session.sub, client_id: subject.clientId, resource: subject.resource },
      'mcp client authorized',
    );
    await deps.provider.interactionFinished(
      req,
      res,
      { login: { accountId: session.sub }, consent: { grantId } },
      { mergeWithLastSubmission: false },
    );
  }

  async function submit(
    req: IncomingMessage,
    res: ServerResponse,
    uid: string,
    session: SessionRecord,
    subject: Subject,
  ) {
    let form: URLSearchParams;
    try {
      form = await readForm(req);
    } catch (err) {
      return fail(res, err instanceof FormError ? err.status : 400, 'The form could not be read.');
    }
    if (!timingSafeEqualString(form.get('csrf') ?? '', csrfFor(uid, session))) {
      deps.logger.warn(
        { sub: session.sub, client_id: subject.clientId },
        'consent refused: bad CSRF token',
      );
      return fail(
        res,
        403,
        'This consent form is not valid any more. Start again from your MCP client.',
      );
    }
    if (form.get('decision') !== 'allow') {
      deps.logger.info({ sub: session.sub, client_id: subject.clientId }, 'mcp client denied');
      return refuse(req, res, 'access_denied', 'the user denied the request');
    }
    await deps.consents.put({
      sub: session.sub,
      resource: subject.resource,
      clientKey: subject.clientKey,
      clientName: subject.clientName,
      scopes: subject.scopes,
      grantedAt: deps.now(),
    });
    return approve(req, res, session, subject);
  }

  return async (req: IncomingMessage, res: ServerResponse, uid: string): Promise<void> => {
    if (req.method !== 'GET' && req.method !== 'POST') {
      res.writeHead(405, { allow: 'GET, POST' }).end();
      return;
    }
    let details: InteractionDetails;
    try {
      details = await deps.provider.interactionDetails(req, res);
    } catch {
      return fail(res, 400, 'This authorization has expired. Start again from your MCP client.');
    }
    if (details.uid !== uid) return fail(res, 400, 'Unexpected authorization step. Start again.');
    // The provider asks again after a consent it was given: the request wants something this
    // server never grants. Approving again would loop (and save a grant each turn).
    if (details.lastSubmission?.consent !== undefined) {
      deps.logger.warn({ uid }, 'authorization asked for consent twice: refused');
      return refuse(
        req,
        res,
        'invalid_request',
        'the request asks for more than this server grants',
      );
    }
    const silent = isSilent(details.params);
    const session = await deps.authenticate(req);
    if (session === undefined) {
      if (silent) return refuse(req, res, 'login_required', 'the user is not signed in');
      if (req.method !== 'GET') return fail(res, 403, 'Sign in first, then start again.');
      return deps.startSignIn(req, res, `${INTERACTION_PREFIX}${uid}`);
    }
    const subject = await subjectOf(details);
    if (subject === undefined) return fail(res, 400, 'This authorization request is not valid.');
    if (req.method === 'POST') return submit(req, res, uid, session, subject);
    const remembered = await deps.consents.get(session.sub, subject.resource, subject.clientKey);
    if (remembered && subject.scopes.every((s) => remembered.scopes.includes(s))) {
      return approve(req, res, session, subject);
    }
    if (silent) {
      return refuse(req, res, 'consent_required', 'the user has not allowed this client yet');
    }
    const formAction = formActionSource(subject.redirectUri);
    sendPage(
      res,
      200,
      renderConsent({
        action: `${INTERACTION_PREFIX}${uid}`,
        csrf: csrfFor(uid, session),
        clientName: subject.clientName,
        clientHost: subject.clientHost,
        redirectUri: subject.redirectUri,
        serverName: deps.resources.get(subject.resource) ?? subject.resource,
        resource: subject.resource,
        account: session.email ?? session.sub,
        offline: subject.scopes.includes('offline_access'),
      }),
      { formActions: formAction ? [formAction] : [] },
    );
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
