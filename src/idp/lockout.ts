import type { LoginAttemptStore } from '../storage/types.js';

export interface LockoutPolicy {
  /** Failures per email within `windowMs` that lock the email. Default 5. */
  readonly maxFailuresPerEmail: number;
  /** Failures per client IP within `windowMs` that lock the IP. Default 20. */
  readonly maxFailuresPerIp: number;
  /** Default 15 minutes: a lock lifts once failures age out of the window. */
  readonly windowMs: number;
}

export const DEFAULT_LOCKOUT: LockoutPolicy = {
  maxFailuresPerEmail: 5,
  maxFailuresPerIp: 20,
  windowMs: 15 * 60_000,
};

/**
 * Rate limits and lockout for password sign-in (OWASP ASVS V2.2.1), per email and per
 * client IP. Locks apply to any email typed, known or not, so they reveal nothing about
 * which accounts exist. While locked, attempts are refused without checking the password
 * and are not counted, so a lock lasts at most `windowMs`.
 */
export class LoginGuard {
  constructor(
    private readonly store: LoginAttemptStore,
    private readonly policy: LockoutPolicy = DEFAULT_LOCKOUT,
    private readonly now: () => number = Date.now,
  ) {}

  /** True when sign-in for this email or from this IP is currently refused. */
  async isLocked(email: string, ip: string): Promise<boolean> {
    const since = this.now() - this.policy.windowMs;
    const [byEmail, byIp] = await Promise.all([
      this.store.countFailures(emailKey(email), since),
      this.store.countFailures(ipKey(ip), since),
    ]);
    return byEmail >= this.policy.maxFailuresPerEmail || byIp >= this.policy.maxFailuresPerIp;
  }

  async recordFailure(email: string, ip: string): Promise<void> {
    const at = this.now();
    await Promise.all([
      this.store.recordFailure(emailKey(email), at),
      this.store.recordFailure(ipKey(ip), at),
    ]);
  }

  /** A successful sign-in clears the email's failures (the IP's stay: it may be guessing). */
  async recordSuccess(email: string): Promise<void> {
    await this.store.reset(emailKey(email));
  }

  /** Minutes a user should wait, for the message. */
  get windowMinutes(): number {
    return Math.ceil(this.policy.windowMs / 60_000);
  }
}

function emailKey(email: string): string {
  return `email:${email.trim().toLowerCase()}`;
}

function ipKey(ip: string): string {
  return `ip:${ip}`;
}
