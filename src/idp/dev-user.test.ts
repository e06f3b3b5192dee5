import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { verifyPassword } from '../core/crypto.js';
import { createMemoryStorage } from '../storage/memory.js';
import { AccountDirectory } from './accounts.js';
import { seedDevUser } from './dev-user.js';

describe('seedDevUser', () => {
  it('creates a user once with a random password, then leaves it alone', async () => {
    const storage = createMemoryStorage();
    const first = await seedDevUser({ storage, env: {} });
    assert.equal(first.email, 'dev@example.com');
    assert.ok(first.generatedPassword && first.generatedPassword.length >= 16);
    const stored = await storage.users.get('dev@example.com');
    assert.ok(stored && (await verifyPassword(first.generatedPassword, stored.passwordHash)));
    const second = await seedDevUser({ storage, env: {} });
    assert.equal(second.generatedPassword, null);
    assert.equal((await storage.users.get('dev@example.com'))?.passwordHash, stored.passwordHash);
    await storage.close();
  });

  it('uses PORTCULLIS_DEV_EMAIL / PORTCULLIS_DEV_PASSWORD and never prints them', async () => {
    const storage = createMemoryStorage();
    const env = { PORTCULLIS_DEV_EMAIL: 'Me@Example.com', PORTCULLIS_DEV_PASSWORD: 'pw-1' };
    const seeded = await seedDevUser({ storage, env });
    assert.deepEqual(seeded, { email: 'me@example.com', generatedPassword: null });
    const accounts = new AccountDirectory([], storage.users);
    assert.equal((await accounts.verify('ME@example.com', 'pw-1'))?.email, 'me@example.com');
    await seedDevUser({ storage, env: { ...env, PORTCULLIS_DEV_PASSWORD: 'pw-2' } });
    assert.equal(await accounts.verify('me@example.com', 'pw-1'), undefined);
    assert.ok(await accounts.verify('me@example.com', 'pw-2'));
    await storage.close();
  });
});
