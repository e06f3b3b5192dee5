import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AsyncLocalStorage } from 'node:async_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { servingOAuth } from '../core/request-context.js';
import { loadOidcProvider } from './provider-module.js';

test("oidc-provider's own storage is switched once the provider is loaded", async () => {
  await loadOidcProvider();
  const specifier: string = 'oidc-provider/lib/helpers/als.js';
  const als = ((await import(specifier)) as { default: AsyncLocalStorage<string> }).default;
  let late: string | undefined = 'not read';
  await servingOAuth(async () =>
    als.run('request', () => {
      setTimeout(() => (late = als.getStore()), 30);
      return sleep(5);
    }),
  );
  await sleep(50);
  assert.equal(late, undefined, 'its contexts were exited once the request settled');
});
