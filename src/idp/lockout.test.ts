import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryStorage } from '../storage/memory.js';
import { LoginGuard } from './lockout.js';

describe('LoginGuard', () => {
  it('locks an email after 5 failures in 15 minutes, until they age out', async () => {
    const storage = createMemoryStorage();
    let now = 1_000_000;
    const guard = new LoginGuard(storage.loginAttempts, undefined, () => now);
    for (let i = 0; i < 4; i++) await guard.recordFailure('A@example.com', '10.0.0.1');
    assert.equal(await guard.isLocked('a@example.com', '10.0.0.2'), false);
    await guard.recordFailure('a@example.com', '10.0.0.3');
    assert.equal(await guard.isLocked('a@example.com', '10.0.0.2'), true);
    assert.equal(await guard.isLocked('b@example.com', '10.0.0.2'), false);
    now += 15 * 60_000 + 1;
    assert.equal(await guard.isLocked('a@example.com', '10.0.0.2'), false);
    await storage.close();
  });

  it('limits one client IP across emails, and a success clears only the email', async () => {
    const storage = createMemoryStorage();
    const guard = new LoginGuard(
      storage.loginAttempts,
      { maxFailuresPerEmail: 5, maxFailuresPerIp: 3, windowMs: 60_000 },
      () => 5_000,
    );
    for (const e of ['x@e.com', 'y@e.com', 'z@e.com']) await guard.recordFailure(e, '10.0.0.9');
    assert.equal(await guard.isLocked('new@e.com', '10.0.0.9'), true);
    assert.equal(await guard.isLocked('new@e.com', '10.0.0.8'), false);
    await guard.recordSuccess('x@e.com');
    assert.equal(await storage.loginAttempts.countFailures('email:x@e.com', 0), 0);
    assert.equal(await storage.loginAttempts.countFailures('ip:10.0.0.9', 0), 3);
    await storage.close();
  });
});
