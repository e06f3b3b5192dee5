/**
 * The built-in provider's interaction pages: the sign-in form (login prompt). Consent is
 * never asked: the only client is the gateway itself, whose grant `loadExistingGrant`
 * creates. The interaction is bound to oidc-provider's interaction cookie (SameSite=Lax,
 * path-scoped), which is what stops cross-site form posts.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SessionLogger } from '../session/manager.js';
import { renderError } from '../web/error-page.js';
import { sendPage } from '../web/respond.js';
import { renderSignIn } from '../web/signin-page.js';
import type { AccountDirectory } from './accounts.js';
import { FormError, readForm } from './form.js';
import type { LoginGuard } from './lockout.js';
import type { OidcProvider } from './oidc-provider-module.js';

export interface InteractionDeps {
  readonly provider: OidcProvider;
  /** `/.pomerium/idp` */
  readonly prefix: string;
  readonly accounts: AccountDirectory;
  readonly guard: LoginGuard;
  /** Origins the sign-in form's redirect chain may reach (the gateway's callback origin). */
  readonly formActions: readonly string[];
  readonly clientIp: (req: IncomingMessage) => string;
  readonly logger: SessionLogger;
}

const WRONG = 'Incorrect email or password.';

export function createInteractionHandler(deps: InteractionDeps) {
  const page = (res: ServerResponse, status: number, email: string, uid: string, error?: string) =>
    sendPage(
      res,
      status,
      renderSignIn({
        action: `${deps.prefix}/interaction/${uid}`,
        email,
        ...(error ? { error } : {}),
      }),
      { formActions: deps.formActions },
    );

  async function details(req: IncomingMessage, res: ServerResponse) {
    try {
      return await deps.provider.interactionDetails(req, res);
    } catch {
      sendPage(
        res,
        400,
        renderError({
          title: 'Sign-in expired',
          message: 'This sign-in page has expired. Go back to the application and start again.',
          retryHref: '/',
        }),
      );
      return undefined;
    }
  }

  async function submit(req: IncomingMessage, res: ServerResponse, uid: string): Promise<void> {
    let form: URLSearchParams;
    try {
      form = await readForm(req);
    } catch (err) {
      // Anything else is the client hanging up: no one is left to answer.
      if (!(err instanceof FormError)) throw err;
      res.writeHead(err.status).end();
      return;
    }
    const email = (form.get('email') ?? '').trim().toLowerCase();
    const password = form.get('password') ?? '';
    const ip = deps.clientIp(req);
    if (email === '' || password === '') return page(res, 400, email, uid, WRONG);
    if (await deps.guard.isLocked(email, ip)) {
      deps.logger.warn({ email, ip }, 'built-in sign-in refused: locked out');
      const minutes = deps.guard.windowMinutes;
      return page(
        res,
        429,
        email,
        uid,
        `Too many failed sign-in attempts. Try again in ${minutes} minutes.`,
      );
    }
    const account = await deps.accounts.verify(email, password);
    if (account === undefined) {
      await deps.guard.recordFailure(email, ip);
      deps.logger.info({ email, ip }, 'built-in sign-in failed');
      return page(res, 401, email, uid, WRONG);
    }
    await deps.guard.recordSuccess(email);
    deps.logger.info({ email }, 'built-in sign-in succeeded');
    await deps.provider.interactionFinished(
      req,
      res,
      { login: { accountId: account.email } },
      { mergeWithLastSubmission: false },
    );
  }

  return async (req: IncomingMessage, res: ServerResponse, uid: string): Promise<void> => {
    if (req.method !== 'GET' && req.method !== 'POST') {
      res.writeHead(405, { allow: 'GET, POST' }).end();
      return;
    }
    const interaction = await details(req, res);
    if (interaction === undefined) return;
    if (interaction.uid !== uid || interaction.prompt.name !== 'login') {
      // Consent for the gateway is granted by loadExistingGrant; no other prompt is expected.
      sendPage(
        res,
        400,
        renderError({ title: 'Sign-in failed', message: 'Unexpected sign-in step. Start again.' }),
      );
      return;
    }
    if (req.method === 'GET') return page(res, 200, '', uid);
    return submit(req, res, uid);
  };
}
