import { html, type SafeHtml } from './html.js';
import { layout } from './layout.js';

export interface SignInPageInput {
  /** Where the form posts (same origin). */
  readonly action: string;
  /** The email typed last time, kept so the user need not type it again. */
  readonly email?: string;
  /** A message for the user (wrong credentials, locked out); never says which part was wrong. */
  readonly error?: string;
}

/** The built-in identity provider's sign-in form: fields `Email`, `Password`, button `Sign in`. */
export function renderSignIn(input: SignInPageInput): SafeHtml {
  return layout(
    'Sign in',
    html`<h1>Sign in</h1>
      ${input.error ? html`<p class="error" role="alert">${input.error}</p>` : ''}
      <form method="post" action="${input.action}">
        <label for="email">Email</label>
        <input
          id="email"
          name="email"
          type="email"
          autocomplete="username"
          required
          autofocus
          value="${input.email ?? ''}"
        />
        <label for="password">Password</label>
        <input
          id="password"
          name="password"
          type="password"
          autocomplete="current-password"
          required
        />
        <button type="submit">Sign in</button>
      </form>`,
  );
}

export interface SignOutPageInput {
  /** oidc-provider's hidden logout form (carries its CSRF token), trusted markup. */
  readonly form: SafeHtml;
  /** The form's id, for the buttons' `form` attribute. */
  readonly formId: string;
}

/** The identity provider's "sign out?" confirmation (RP-initiated logout without id_token_hint). */
export function renderSignOutConfirm(input: SignOutPageInput): SafeHtml {
  return layout(
    'Sign out',
    html`<h1>Sign out</h1>
      <p>Sign out of the Portcullis identity provider too?</p>
      ${input.form}
      <button type="submit" form="${input.formId}" name="logout" value="yes">Sign out</button>
      <button type="submit" form="${input.formId}" class="secondary">Stay signed in</button>`,
  );
}

/** Shown after signing out when there is nowhere to return to. */
export function renderSignedOut(): SafeHtml {
  return layout(
    'Signed out',
    html`<h1>Signed out</h1>
      <p>You have been signed out.</p>`,
  );
}
