/**
 * The vault's sealing of upstream token values (AES-GCM under a key derived from
 * `shared_secret`), each bound to its row and use, and the record a token set makes.
 */
import { deriveKey, open as openSealed, seal as sealValue } from '../core/crypto.js';
import type { UpstreamTokenRecord } from '../storage/types.js';
import type { UpstreamTokenSet } from './oauth-client.js';

type Kind = 'access' | 'refresh';

/** The row a token is sealed for (the vault's `TokenKey`). */
interface TokenKey {
  readonly sub: string;
  readonly routeKey: string;
  readonly upstream: { readonly upstreamKey: string };
}

export class TokenSealer {
  private readonly key: Buffer;

  constructor(
    sharedSecret: string,
    private readonly now: () => number,
  ) {
    this.key = deriveKey(sharedSecret, 'portcullis upstream tokens v1');
  }

  /** The record a token set makes; a refresh without a new refresh token keeps the old one. */
  record(
    key: TokenKey,
    tokens: UpstreamTokenSet,
    previous: UpstreamTokenRecord | undefined,
    keptRefreshEnc: string | null,
  ): UpstreamTokenRecord {
    const now = this.now();
    return {
      sub: key.sub,
      routeKey: key.routeKey,
      upstreamKey: key.upstream.upstreamKey,
      accessTokenEnc: this.seal(key, tokens.accessToken, 'access'),
      refreshTokenEnc:
        tokens.refreshToken === null
          ? keptRefreshEnc
          : this.seal(key, tokens.refreshToken, 'refresh'),
      scopes: tokens.scopes ?? previous?.scopes ?? [],
      expiresAt: tokens.expiresIn === undefined ? null : now + tokens.expiresIn * 1000,
      createdAt: previous?.createdAt ?? now,
      updatedAt: now,
      version: (previous?.version ?? 0) + 1,
    };
  }

  private seal(key: TokenKey, value: string, kind: Kind): string {
    return sealValue(this.key, value, aad(key, kind));
  }

  open(key: TokenKey, sealed: string, kind: Kind): string {
    return openSealed(this.key, sealed, aad(key, kind));
  }
}

/** Binds a sealed token to its row and use: a value moved to another row does not open. */
function aad(key: TokenKey, kind: Kind): string {
  return ['upstream-token', kind, key.sub, key.routeKey, key.upstream.upstreamKey].join('\0');
}
