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
import { identityRecord } from './identity-record.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { timingSafeEqualString } from '../core/crypto.js';
import { interactionMethod, readForm } from '../oidc/form.js';
import type { InteractionDetails, OidcProvider } from '../oidc/provider-module.js';
import type { SessionLogger, StartSignIn } from '../session/manager.js';
import type { ConsentStore, IdentityStore, OAuthStore, SessionRecord } from '../storage/types.js';
import { renderError } from '../web/error-page.js';
import { sendPage } from '../web/respond.js';
import { isSilent } from './authorization-request.js';
import { renderConsent, renderUpstreamFailed } from './consent-page.js';
import { recordGrantSession } from './grant-session.js';
import { subjectOf, type Subject } from './interaction-subject.js';
import { formActionSource } from './redirect-uris.js';
import { INTERACTION_PREFIX } from './routes.js';

export interface InteractionDeps {
  readonly provider: OidcProvider;
  readonly authenticate: (req: IncomingMessage) => Promise<SessionRecord | undefined>;
  readonly startSignIn: StartSignIn;
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
  readonly upstream?: UpstreamConnectPort;
}

/** The upstream tokens a resource needs (`upstream/service.ts`). */
export interface UpstreamConnectPort {
  /**
   * The provider's authorization URL when `session`'s user must connect before a grant for
   * `resource`, else undefined. Back at `returnTo`; a failure in `errorParam`.
   */
  connectFirst(
    session: SessionRecord,
    resource: string,
    back: { readonly returnTo: string; readonly errorParam: string },
  ): Promise<URL | undefined>;
}

/** The query parameter the upstream callback reports a failure in. */
const UPSTREAM_ERROR = 'upstream_error';

export class ConsentInteraction {
  constructor(private readonly deps: InteractionDeps) {}

  /** `GET|POST /.pomerium/mcp/interaction/<uid>`. */
  async handle(req: IncomingMessage, res: ServerResponse, uid: string): Promise<void> {
    if (!interactionMethod(req, res)) return;
    const details = await this.details(req, res, uid);
    if (details === undefined) return;
    const silent = isSilent(details.params);
    const session = await this.deps.authenticate(req);
    if (session === undefined) {
      if (silent) return this.refuse(req, res, 'login_required', 'the user is not signed in');
      if (req.method !== 'GET') return this.fail(res, 403, 'Sign in first, then start again.');
      return this.deps.startSignIn(req, res, `${INTERACTION_PREFIX}${uid}`);
    }
    const subject = await subjectOf(this.deps.provider, this.deps.resources, details);
    if (subject === undefined)
      return this.fail(res, 400, 'This authorization request is not valid.');
    if (req.method === 'POST') return this.submit(req, res, uid, session, subject);
    const upstreamFailure = new URL(req.url ?? '/', 'http://x').searchParams.get(UPSTREAM_ERROR);
    if (upstreamFailure !== null) {
      return this.showUpstreamFailed(res, uid, session, subject, upstreamFailure);
    }
    if (await this.remembered(session, subject)) {
      return this.approve(req, res, uid, session, subject, silent);
    }
    if (silent) {
      return this.refuse(req, res, 'consent_required', 'the user has not allowed this client yet');
    }
    this.showConsent(res, uid, session, subject);
  }

  /** The interaction when it is live, is this one, and did not already end in a consent. */
  private async details(req: IncomingMessage, res: ServerResponse, uid: string) {
    let details: InteractionDetails;
    try {
      details = await this.deps.provider.interactionDetails(req, res);
    } catch {
      this.fail(res, 400, 'This authorization has expired. Start again from your MCP client.');
      return undefined;
    }
    if (details.uid !== uid) {
      this.fail(res, 400, 'Unexpected authorization step. Start again.');
      return undefined;
    }
    // The provider asks again after a consent it was given: the request wants something this
    // server never grants. Approving again would loop (and save a grant each turn).
    if (details.lastSubmission?.consent !== undefined) {
      this.deps.logger.warn({ uid }, 'authorization asked for consent twice: refused');
      await this.refuse(
        req,
        res,
        'invalid_request',
        'the request asks for more than this server grants',
      );
      return undefined;
    }
    return details;
  }

  private async remembered(session: SessionRecord, subject: Subject): Promise<boolean> {
    const consent = await this.deps.consents.get(session.sub, subject.resource, subject.clientKey);
    return consent !== undefined && subject.scopes.every((s) => consent.scopes.includes(s));
  }

  private showConsent(res: ServerResponse, uid: string, session: SessionRecord, subject: Subject) {
    const formAction = formActionSource(subject.redirectUri);
    sendPage(
      res,
      200,
      renderConsent({
        action: `${INTERACTION_PREFIX}${uid}`,
        csrf: this.csrfFor(uid, session),
        clientName: subject.clientName,
        clientHost: subject.clientHost,
        redirectUri: subject.redirectUri,
        serverName: this.deps.resources.get(subject.resource) ?? subject.resource,
        resource: subject.resource,
        account: session.email ?? session.sub,
        offline: subject.scopes.includes('offline_access'),
      }),
      { formActions: formAction ? [formAction] : [] },
    );
  }

  /** The consent form's answer: CSRF-checked, then denied or allowed (and remembered). */
  private async submit(
    req: IncomingMessage,
    res: ServerResponse,
    uid: string,
    session: SessionRecord,
    subject: Subject,
  ): Promise<void> {
    const form = await readForm(req, (err) =>
      this.fail(res, err.status, 'The form could not be read.', err.headers),
    );
    if (form === undefined) return;
    const who = { sub: session.sub, client_id: subject.clientId };
    if (!timingSafeEqualString(form.get('csrf') ?? '', this.csrfFor(uid, session))) {
      this.deps.logger.warn(who, 'consent refused: bad CSRF token');
      const message = 'This consent form is not valid any more. Start again from your MCP client.';
      return this.fail(res, 403, message);
    }
    const decision = form.get('decision');
    if (decision === 'upstream_failed') {
      const reason = (form.get('reason') ?? '').slice(0, 300);
      return this.refuse(req, res, 'access_denied', `the upstream service refused: ${reason}`);
    }
    if (decision !== 'allow') {
      this.deps.logger.info(who, 'mcp client denied');
      return this.refuse(req, res, 'access_denied', 'the user denied the request');
    }
    await this.deps.consents.put({
      sub: session.sub,
      resource: subject.resource,
      clientKey: subject.clientKey,
      clientName: subject.clientName,
      clientId: subject.clientId,
      redirectUri: subject.redirectUri,
      scopes: subject.scopes,
      grantedAt: this.deps.now(),
    });
    return this.approve(req, res, uid, session, subject, false);
  }

  private showUpstreamFailed(
    res: ServerResponse,
    uid: string,
    session: SessionRecord,
    subject: Subject,
    reason: string,
  ): void {
    sendPage(
      res,
      502,
      renderUpstreamFailed({
        action: `${INTERACTION_PREFIX}${uid}`,
        csrf: this.csrfFor(uid, session),
        clientName: subject.clientName,
        serverName: this.deps.resources.get(subject.resource) ?? subject.resource,
        reason: reason.slice(0, 300),
      }),
      // The form's answer redirects to the client: a form-action source (as on consent).
      { formActions: [formActionSource(subject.redirectUri)].filter((a) => a !== undefined) },
    );
  }

  /**
   * Saves the grant (and the identity its tokens act as) and ends the interaction with it;
   * first, when the server needs an upstream token the user does not hold, the user goes to
   * the provider and comes back here.
   */
  private async approve(
    req: IncomingMessage,
    res: ServerResponse,
    uid: string,
    session: SessionRecord,
    subject: Subject,
    silent: boolean,
  ): Promise<void> {
    const { deps } = this;
    const back = { returnTo: `${INTERACTION_PREFIX}${uid}`, errorParam: UPSTREAM_ERROR };
    const connect = await deps.upstream?.connectFirst(session, subject.resource, back);
    if (connect !== undefined) {
      if (silent) {
        return this.refuse(req, res, 'interaction_required', 'the upstream service needs consent');
      }
      res.writeHead(303, { location: connect.href, 'cache-control': 'no-store' }).end();
      return;
    }
    const now = deps.now();
    await deps.identities.put(identityRecord(session, now));
    const grant = new deps.provider.Grant({ accountId: session.sub, clientId: subject.clientId });
    grant.addResourceScope(subject.resource, 'mcp');
    // `mcp` and `offline_access` are also provider-wide scopes (clients register with them).
    grant.addOIDCScope(subject.scopes.join(' '));
    const grantId = await grant.save();
    await recordGrantSession(deps.oauth, grantId, session.idHash, now + deps.grantLifetime * 1000, {
      sub: session.sub,
      clientId: subject.clientId,
      clientKey: subject.clientKey,
      resource: subject.resource,
      redirectUri: subject.redirectUri,
      createdAt: now,
    });
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

  /** Ends the interaction with an OAuth error at the client's (already checked) redirect URI. */
  private refuse(req: IncomingMessage, res: ServerResponse, error: string, description: string) {
    return this.deps.provider.interactionFinished(
      req,
      res,
      { error, error_description: description },
      { mergeWithLastSubmission: false },
    );
  }

  /** An error page: nothing is sent to a redirect URI that was not checked (STYLE habit 4). */
  private fail(res: ServerResponse, status: number, message: string, headers = {}): void {
    sendPage(res, status, renderError({ title: 'Authorization failed', message }), { headers });
  }

  private csrfFor(uid: string, session: SessionRecord): string {
    return createHmac('sha256', this.deps.csrfKey)
      .update(`${uid}\0${session.idHash}`)
      .digest('base64url');
  }
}
