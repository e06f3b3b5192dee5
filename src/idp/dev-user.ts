import { hashPassword, randomId, verifyPassword } from '../core/crypto.js';
import type { Storage } from '../storage/types.js';

export interface SeedDevUserOptions {
  readonly storage: Pick<Storage, 'users'>;
  /** Default `PORTCULLIS_DEV_EMAIL`, else `dev@example.com`. */
  readonly email?: string;
  /** Default `PORTCULLIS_DEV_PASSWORD`, else a random one when the user does not exist yet. */
  readonly password?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly clock?: () => number;
}

export interface SeededUser {
  readonly email: string;
  /** Set only when a password was generated now: print it once, it is not kept in the clear. */
  readonly generatedPassword: string | null;
}

/**
 * The built-in provider's user for `npm start`. With a password given, the user is created or
 * its password updated; without, it is created once with a random password and left alone
 * on later starts.
 */
export async function seedDevUser(options: SeedDevUserOptions): Promise<SeededUser> {
  const env = options.env ?? process.env;
  const email = (options.email ?? (env.PORTCULLIS_DEV_EMAIL || 'dev@example.com')).toLowerCase();
  const password = options.password ?? (env.PORTCULLIS_DEV_PASSWORD || undefined);
  const now = (options.clock ?? Date.now)();
  const existing = await options.storage.users.get(email);
  if (password === undefined && existing !== undefined) {
    return { email, generatedPassword: null };
  }
  if (
    password !== undefined &&
    existing &&
    (await verifyPassword(password, existing.passwordHash))
  ) {
    return { email, generatedPassword: null };
  }
  const chosen = password ?? randomId(12);
  await options.storage.users.put({
    email,
    name: existing?.name ?? 'Developer',
    groups: existing?.groups ?? [],
    passwordHash: await hashPassword(chosen),
    createdAt: existing?.createdAt ?? now,
  });
  return { email, generatedPassword: password === undefined ? chosen : null };
}
