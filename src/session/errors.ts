import type { ServerResponse } from 'node:http';
import { renderError } from '../web/error-page.js';
import { sendPage } from '../web/respond.js';
import type { SessionLogger } from './refresh.js';

/**
 * The gateway's one answer to a JSON request that needs a signed-in user and has none: the
 * body routes send with their 401, and `/.pomerium/user` too.
 */
export const NOT_SIGNED_IN = {
  error: 'unauthorized',
  error_description: 'sign in to use this route',
} as const;

/**
 * A sign-in that cannot complete. `message` is shown to the user on an error page (the
 * callback never redirects on error); `detail` and `cause` go to the log only.
 */
export class SignInError extends Error {
  constructor(
    readonly code:
      'ERR_SIGNIN_STATE' | 'ERR_SIGNIN_DENIED' | 'ERR_SIGNIN_EXCHANGE' | 'ERR_IDP_UNAVAILABLE',
    readonly status: number,
    message: string,
    readonly detail?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'SignInError';
  }
}

/** The sign-in error page; the detail and the cause go to the log only. */
export function sendSignInFailure(res: ServerResponse, err: unknown, logger: SessionLogger): void {
  const e =
    err instanceof SignInError
      ? err
      : new SignInError('ERR_SIGNIN_EXCHANGE', 500, 'Sign-in failed. Start again.', undefined, {
          cause: err,
        });
  logger.warn({ code: e.code, detail: e.detail, err: e.cause }, 'sign-in failed');
  sendPage(
    res,
    e.status,
    renderError({ title: 'Sign-in failed', message: e.message, reference: e.code, retryHref: '/' }),
  );
}
