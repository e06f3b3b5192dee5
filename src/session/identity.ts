/** Reading the user's identity out of provider claims (OIDC Core §5.1 standard claims). */

export interface Identity {
  readonly email: string | null;
  readonly name: string | null;
  readonly groups: readonly string[];
}

function str(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

export function identityFromClaims(claims: Readonly<Record<string, unknown>>): Identity {
  const given = str(claims.given_name);
  const family = str(claims.family_name);
  const composed = [given, family].filter((x) => x !== null).join(' ');
  const groups = Array.isArray(claims.groups)
    ? claims.groups.filter((g): g is string => typeof g === 'string')
    : [];
  return {
    email: str(claims.email)?.toLowerCase() ?? null,
    name: str(claims.name) ?? (composed === '' ? null : composed),
    groups,
  };
}
