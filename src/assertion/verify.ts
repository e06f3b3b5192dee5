import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';

/** The header Pomerium (and Portcullis) puts the signed identity in. */
export const ASSERTION_HEADER = 'x-pomerium-jwt-assertion';

export interface AssertionVerifierOptions {
  /** Where the signer publishes its keys (`…/.well-known/pomerium/jwks.json`). */
  readonly jwksUrl: URL;
  /** Accepted `iss` values, exactly. Pomerium's issuer is a bare host name. */
  readonly issuers: readonly string[];
  /** Required `aud` when set. */
  readonly audience?: string | undefined;
  /** Tolerated clock difference for `exp`, `nbf` and `iat`. */
  readonly clockToleranceSeconds?: number;
  /** Minimum wait between two key refetches triggered by unknown `kid`s. */
  readonly refetchCooldownMs?: number;
}

export interface Identity {
  readonly sub: string;
  readonly email: string | undefined;
  readonly name: string | undefined;
  readonly groups: string[];
  readonly claims: JWTPayload;
}

/** Why an assertion was refused, with a stable code; the message is safe to show the caller. */
export class AssertionError extends Error {
  constructor(
    readonly code:
      | 'ERR_ASSERTION_MISSING'
      | 'ERR_ASSERTION_INVALID'
      | 'ERR_ASSERTION_EXPIRED'
      | 'ERR_ASSERTION_KEYS_UNAVAILABLE',
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'AssertionError';
  }
}

// Asymmetric only: an HMAC alg would let anyone who knows a public key forge tokens.
const ALGORITHMS = ['ES256', 'ES384', 'ES512', 'RS256', 'RS384', 'RS512', 'PS256', 'EdDSA'];

/**
 * Verifies identity assertions against configured keys and issuers. There is no
 * trust-on-first-use: a token's own `iss` never chooses where keys come from.
 */
export function createAssertionVerifier(options: AssertionVerifierOptions) {
  // jose refetches the set when a token names an unknown `kid`, at most once per cooldown.
  const keys = createRemoteJWKSet(options.jwksUrl, {
    cooldownDuration: options.refetchCooldownMs ?? 30_000,
    cacheMaxAge: 10 * 60_000,
    timeoutDuration: 5_000,
  });
  return async function verify(token: string | string[] | undefined): Promise<Identity> {
    if (token === undefined || token === '' || Array.isArray(token)) {
      throw new AssertionError(
        'ERR_ASSERTION_MISSING',
        'No identity assertion: this request did not come through the gateway (X-Pomerium-Jwt-Assertion is missing).',
      );
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        issuer: [...options.issuers],
        ...(options.audience ? { audience: options.audience } : {}),
        algorithms: ALGORITHMS,
        clockTolerance: options.clockToleranceSeconds ?? 30,
        requiredClaims: ['exp', 'sub'],
      }));
    } catch (err) {
      throw toAssertionError(err);
    }
    return {
      sub: payload.sub!,
      email: stringClaim(payload.email),
      name: stringClaim(payload.name),
      groups: Array.isArray(payload.groups)
        ? payload.groups.filter((g): g is string => typeof g === 'string')
        : [],
      claims: payload,
    };
  };
}

function stringClaim(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function toAssertionError(err: unknown): AssertionError {
  if (err instanceof errors.JWTExpired) {
    return new AssertionError('ERR_ASSERTION_EXPIRED', 'The identity assertion has expired.', {
      cause: err,
    });
  }
  if (err instanceof errors.JWTClaimValidationFailed) {
    return new AssertionError(
      'ERR_ASSERTION_INVALID',
      `The identity assertion was refused: claim "${err.claim}" ${err.reason === 'check_failed' ? 'is not accepted' : 'is missing or malformed'}.`,
      { cause: err },
    );
  }
  // Keys that cannot be fetched (network, timeout, a malformed set) are our failure, not the caller's.
  // jose throws its bare base class (code ERR_JOSE_GENERIC) only when the key set response is
  // not 200 or not JSON.
  if (
    err instanceof errors.JWKSTimeout ||
    err instanceof errors.JWKSInvalid ||
    !(err instanceof errors.JOSEError) ||
    err.code === errors.JOSEError.code
  ) {
    return new AssertionError(
      'ERR_ASSERTION_KEYS_UNAVAILABLE',
      'The identity assertion could not be checked: the signing keys are unavailable.',
      { cause: err },
    );
  }
  return new AssertionError(
    'ERR_ASSERTION_INVALID',
    'The identity assertion was refused: its signature or format is not valid.',
    { cause: err },
  );
}
