import type { ServerResponse } from 'node:http';
import { renderError } from '../web/error-page.js';
import { sendPage } from '../web/respond.js';
import { sendUnavailablePage } from '../web/unavailable-page.js';
import { isStorageUnavailable } from '../storage/errors.js';
import type { SessionLogger } from './refresh.js';

/**
 * The gateway's one answer to a JSON request that needs a signed-in user and has none: the
 * body routes send with their 401, and `/.pomerium/user` too.
 */
export const NOT_SIGNED_IN = {
  error: 'unauthorized',
  error_description: 'sign in to use this route',
} as const;

export type SignInErrorCode =
  | 'ERR_SIGNIN_STATE'
  | 'ERR_SIGNIN_DENIED'
  | 'ERR_SIGNIN_EXCHANGE'
  | 'ERR_IDP_UNAVAILABLE'
  // The sign-in request a route host sent to the authenticate host (`handoff.ts`).
  | 'ERR_SIGNIN_REQUEST'
  | 'ERR_SIGNIN_REQUEST_EXPIRED'
  | 'ERR_SIGNIN_TARGET'
  | 'ERR_SIGNIN_HOST'
  // The hand-off the authenticate host sent back to a route host.
  | 'ERR_HANDOFF_UNKNOWN'
  | 'ERR_HANDOFF_USED'
  | 'ERR_HANDOFF_HOST'
  | 'ERR_HANDOFF_BROWSER'
  | 'ERR_HANDOFF_SESSION';

/**
 * A sign-in that cannot complete. `message` is shown to the user on an error page (the
 * callback never redirects on error); `detail` and `cause` go to the log only.
 */
export class SignInError extends Error {
  constructor(
    readonly code: SignInErrorCode,
    readonly status: number,
    message: string,
    readonly detail?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'SignInError';
  }
}

/**
 * The sign-in error page; the detail and the cause go to the log only. Storage that cannot be
 * reached is no failure of the sign-in: the page says to retry, with a 503 and `Retry-After`.
 */
export function sendSignInFailure(res: ServerResponse, err: unknown, logger: SessionLogger): void {
  if (isStorageUnavailable(err)) {
    logger.warn({ err: (err as Error).message }, 'sign-in: storage unavailable, answered 503');
    return sendUnavailablePage(res);
  }
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

/** RFC 6749 §4.1.2.1: the provider reported an error instead of a code. */
export function checkProviderError(callbackUrl: URL): void {
  const error = callbackUrl.searchParams.get('error');
  if (error === null) return;
  throw new SignInError(
    'ERR_SIGNIN_DENIED',
    400,
    error === 'access_denied'
      ? 'Sign-in was cancelled or refused by the identity provider.'
      : 'The identity provider could not sign you in. Start again.',
    `${error}: ${callbackUrl.searchParams.get('error_description') ?? ''}`,
  );
}
