/**
 * The built-in identity provider in a real browser (Debian Chromium via playwright-core):
 * the gateway signs in through it with the same relying-party code as for an external
 * provider. Sign-in form by its labels, wrong password, lockout, return to the page asked
 * for, sign-out, and the pages' security headers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from './support/chromium.js';
import { hashPassword } from '../src/core/crypto.js';
import { seedDevUser } from '../src/idp/dev-user.js';
import { createBuiltinIdp } from '../src/idp/provider.js';
import { SessionManager } from '../src/session/manager.js';
import { createRelyingParty } from '../src/session/oidc.js';
import { createMemoryStorage } from '../src/storage/memory.js';
import type { Storage } from '../src/storage/types.js';
import { startSigninApp, type SigninApp } from './support/signin-app.js';

const silent = { debug() {}, info() {}, warn() {}, error() {} };

describe('built-in identity provider in Chromium', () => {
  let storage: Storage;
  let app: SigninApp;
  let browser: Browser;
  let devPassword: string;
  const bob = { email: 'bob@example.com', password: 'bob-password-1' };

  before(async () => {
    storage = createMemoryStorage();
    const seeded = await seedDevUser({ storage, email: 'dev@example.com', env: {} });
    devPassword = seeded.generatedPassword ?? '';
    const users = [
      {
        email: bob.email,
        name: 'Bob Builder',
        groups: ['builders'],
        passwordHash: await hashPassword(bob.password),
      },
      {
        email: 'locked@example.com',
        name: null,
        groups: [],
        passwordHash: await hashPassword('locked-password'),
      },
    ];
    app = await startSigninApp(async (origin) => {
      const redirectUri = `${origin}/oauth2/callback`;
      const idp = await createBuiltinIdp({
        gatewayOrigin: origin,
        redirectUri,
        storage,
        users,
        sharedSecret: 'shared-secret-for-builtin-tests-0123',
        cookieSecret: 'cookie-secret-for-builtin-tests-0123',
        logger: silent,
      });
      const sessions = new SessionManager({
        storage,
        cookieSecret: 'cookie-secret-for-builtin-tests-0123',
        sharedSecret: 'shared-secret-for-builtin-tests-0123',
        secureCookies: false,
        idp: createRelyingParty(idp.relyingParty),
        endProviderSession: idp.endSession,
        logger: silent,
      });
      return { sessions, idp, servers: [{ name: 'whoami', url: `${origin}/whoami` }] };
    });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await app?.close();
    await storage?.close();
  });

  /** A fresh browser context; CSP violations reported on the console fail the test. */
  async function newPage(): Promise<{ page: Page; cspErrors: string[] }> {
    const context = await browser.newContext();
    const page = await context.newPage();
    const cspErrors: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) cspErrors.push(m.text());
    });
    return { page, cspErrors };
  }

  async function submit(page: Page, email: string, password: string) {
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  it('serves OpenID discovery under /.pomerium/idp', async () => {
    const res = await fetch(`${app.origin}/.pomerium/idp/.well-known/openid-configuration`);
    assert.equal(res.status, 200);
    const meta = (await res.json()) as Record<string, unknown>;
    assert.equal(meta.issuer, `${app.origin}/.pomerium/idp`);
    assert.equal(meta.authorization_endpoint, `${app.origin}/.pomerium/idp/auth`);
    assert.deepEqual(meta.code_challenge_methods_supported, ['S256']);
  });

  it('signs in with email and password and lands on the page asked for', async () => {
    const { page, cspErrors } = await newPage();
    const first = await page.goto(`${app.origin}/private/page?x=1`);
    assert.ok(first);
    assert.match(page.url(), /\/\.pomerium\/idp\/interaction\//);
    const headers = first.headers();
    assert.equal(headers['cache-control'], 'no-store');
    assert.equal(headers['x-frame-options'], 'DENY');
    assert.equal(headers['referrer-policy'], 'no-referrer');
    const csp = headers['content-security-policy'] ?? '';
    for (const directive of [
      "default-src 'none'",
      "form-action 'self'",
      "frame-ancestors 'none'",
      "base-uri 'none'",
    ]) {
      assert.ok(csp.includes(directive), `${directive} in ${csp}`);
    }
    assert.match(csp, /style-src 'sha256-[A-Za-z0-9+/=]+'/);

    await submit(page, bob.email, bob.password);
    await page.waitForURL(`${app.origin}/private/page?x=1`);
    assert.match(await page.locator('main').innerText(), /Signed in as Bob Builder/);
    assert.match(await page.content(), /\/whoami/);
    // The page's CSP forbids fetch (connect-src falls back to 'none'): ask with its cookies.
    const user = await (await page.context().request.get(`${app.origin}/.pomerium/user`)).json();
    assert.equal((user as { email: string }).email, bob.email);
    assert.deepEqual((user as { groups: string[] }).groups, ['builders']);
    assert.deepEqual(cspErrors, [], 'the inline style is allowed by its hash');
    await page.context().close();
  });

  it('signs in the seeded UserStore user', async () => {
    assert.ok(devPassword.length >= 16);
    const { page } = await newPage();
    await page.goto(`${app.origin}/`);
    await submit(page, 'DEV@example.com', devPassword);
    await page.waitForURL(`${app.origin}/`);
    assert.match(await page.locator('main').innerText(), /Signed in as Developer/);
    await page.context().close();
  });

  it('says the email or password is wrong without saying which', async () => {
    const { page } = await newPage();
    await page.goto(`${app.origin}/wrong`);
    await submit(page, bob.email, 'not-the-password');
    await assert.doesNotReject(
      page.getByRole('alert').filter({ hasText: 'Incorrect email or password.' }).waitFor(),
    );
    await submit(page, 'nobody@example.com', 'whatever');
    await page.getByRole('alert').filter({ hasText: 'Incorrect email or password.' }).waitFor();
    assert.match(page.url(), /\/interaction\//);
    // The form keeps working: the right password now signs in.
    await submit(page, bob.email, bob.password);
    await page.waitForURL(`${app.origin}/wrong`);
    await page.context().close();
  });

  it('locks the email after 5 failures, even for the right password', async () => {
    const { page } = await newPage();
    await page.goto(`${app.origin}/locked`);
    for (let i = 0; i < 5; i++) {
      await submit(page, 'locked@example.com', `wrong-${i}`);
      await page.getByRole('alert').filter({ hasText: 'Incorrect email or password.' }).waitFor();
    }
    await submit(page, 'locked@example.com', 'locked-password');
    const alert = page.getByRole('alert');
    await alert.filter({ hasText: 'Too many failed sign-in attempts' }).waitFor();
    assert.match(await alert.innerText(), /Try again in 15 minutes/);
    assert.match(page.url(), /\/interaction\//);
    await page.context().close();
  });

  it('signs out at the gateway and at the provider', async () => {
    const { page, cspErrors } = await newPage();
    await page.goto(`${app.origin}/`);
    await submit(page, bob.email, bob.password);
    await page.waitForURL(`${app.origin}/`);
    await page.getByRole('button', { name: 'Sign out' }).click();
    // Back at the gateway's `/`, which starts a fresh sign-in at once: the provider's login
    // session ended with the gateway's, no second confirmation at the provider.
    await page.getByLabel('Password').waitFor();
    assert.match(page.url(), /\/\.pomerium\/idp\/interaction\//);
    const res = await page.context().request.get(`${app.origin}/.pomerium/user`);
    assert.equal(res.status(), 401);
    assert.deepEqual(cspErrors, []);
    await page.context().close();
  });
});
