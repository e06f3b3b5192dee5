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
