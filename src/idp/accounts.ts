import type { BuiltinUser } from '../config/types.js';
import { hashPassword, randomId, verifyPassword } from '../core/crypto.js';
import type { UserStore } from '../storage/types.js';

export interface Account {
  /** Lower-cased; also the subject (`sub`) of the user's tokens. */
  readonly email: string;
  readonly name: string | null;
  readonly groups: readonly string[];
}

/**
 * The built-in provider's users: `builtin_users` from the config first, then the `UserStore`.
 * Emails compare case-insensitively.
 */
export class AccountDirectory {
  private readonly configUsers: Map<string, BuiltinUser>;
  private dummyHash: Promise<string> | undefined;

  constructor(
    configUsers: readonly BuiltinUser[],
    private readonly store: UserStore,
  ) {
    this.configUsers = new Map(configUsers.map((u) => [u.email.toLowerCase(), u]));
  }

  async find(email: string): Promise<(Account & { passwordHash: string }) | undefined> {
    const key = email.trim().toLowerCase();
    const user = this.configUsers.get(key) ?? (await this.store.get(key));
    if (user === undefined) return undefined;
    return { email: key, name: user.name, groups: user.groups, passwordHash: user.passwordHash };
  }

  /**
   * The account when the password matches. An unknown email still costs one scrypt run, so
   * response time does not tell which emails exist.
   */
  async verify(email: string, password: string): Promise<Account | undefined> {
    const user = await this.find(email);
    if (user === undefined) {
      this.dummyHash ??= hashPassword(randomId());
      await verifyPassword(password, await this.dummyHash);
      return undefined;
    }
    if (!(await verifyPassword(password, user.passwordHash))) return undefined;
    return { email: user.email, name: user.name, groups: user.groups };
  }
}
