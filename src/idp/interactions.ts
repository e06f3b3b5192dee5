/**
 * The built-in provider's interaction pages: the sign-in form (login prompt). Consent is
 * never asked: the only client is the gateway itself, whose grant `loadExistingGrant`
 * creates. The interaction is bound to oidc-provider's interaction cookie (SameSite=Lax,
 * path-scoped), which is what stops cross-site form posts.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { interactionMethod, readForm } from '../oidc/form.js';
import type { OidcProvider } from '../oidc/provider-module.js';
import type { SessionLogger } from '../session/manager.js';
import { renderError } from '../web/error-page.js';
import { sendPage } from '../web/respond.js';
import { renderSignIn } from '../web/signin-page.js';
import type { AccountDirectory } from './accounts.js';
import type { LoginGuard } from './lockout.js';

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

export class SignInInteraction {
  constructor(private readonly deps: InteractionDeps) {}

  /** `GET|POST <prefix>/interaction/<uid>`. */
  async handle(req: IncomingMessage, res: ServerResponse, uid: string): Promise<void> {
    if (!interactionMethod(req, res)) return;
    const interaction = await this.details(req, res);
    if (interaction === undefined) return;
    if (interaction.uid !== uid || interaction.prompt.name !== 'login') {
      // Consent for the gateway is granted by loadExistingGrant; no other prompt is expected.
      const message = 'Unexpected sign-in step. Start again.';
      sendPage(res, 400, renderError({ title: 'Sign-in failed', message }));
      return;
    }
    if (req.method === 'GET') return this.page(res, 200, '', uid);
    return this.submit(req, res, uid);
  }

  private async details(req: IncomingMessage, res: ServerResponse) {
    try {
      return await this.deps.provider.interactionDetails(req, res);
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

  private async submit(req: IncomingMessage, res: ServerResponse, uid: string): Promise<void> {
    const form = await readForm(req, (err) => res.writeHead(err.status, err.headers).end());
    if (form === undefined) return;
    const email = (form.get('email') ?? '').trim().toLowerCase();
    const password = form.get('password') ?? '';
    const ip = this.deps.clientIp(req);
    if (email === '' || password === '') return this.page(res, 400, email, uid, WRONG);
    const { guard, logger } = this.deps;
    if (await guard.isLocked(email, ip)) {
      logger.warn({ email, ip }, 'built-in sign-in refused: locked out');
      const message = `Too many failed sign-in attempts. Try again in ${guard.windowMinutes} minutes.`;
      return this.page(res, 429, email, uid, message);
    }
    const account = await this.deps.accounts.verify(email, password);
    if (account === undefined) {
      await guard.recordFailure(email, ip);
      logger.info({ email, ip }, 'built-in sign-in failed');
      return this.page(res, 401, email, uid, WRONG);
    }
    await guard.recordSuccess(email);
    logger.info({ email }, 'built-in sign-in succeeded');
    await this.deps.provider.interactionFinished(
      req,
      res,
      { login: { accountId: account.email } },
      { mergeWithLastSubmission: false },
    );
  }

  private page(res: ServerResponse, status: number, email: string, uid: string, error?: string) {
    sendPage(
      res,
      status,
      renderSignIn({
        action: `${this.deps.prefix}/interaction/${uid}`,
        email,
        ...(error ? { error } : {}),
      }),
      { formActions: this.deps.formActions },
    );
  }
}
