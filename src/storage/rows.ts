/**
 * The SQL backends' rows (one per table, columns as in docs/storage.md) and their reading into
 * records, shared by SQLite and PostgreSQL. The two hand back the same rows but for JSON
 * columns: SQLite keeps them as TEXT, to be parsed; PostgreSQL's JSONB arrives parsed. So a row
 * type takes its JSON columns' type `J`, and each backend reads rows through its own reader
 * (`sqliteRows`, `postgresRows`). Numbers arrive as numbers from both (INTEGER; BIGINT through
 * the pool's safe-integer parser, `postgres.ts`).
 */
import type {
  ConsentRecord,
  IdentityRecord,
  OAuthClientRecord,
  OAuthRecord,
  SessionRecord,
  SigningKeyRecord,
  UpstreamClientRecord,
  UpstreamTokenRecord,
  UserRecord,
} from './types.js';

/** Turns a JSON column, as the driver returns it, into its value. */
type JsonColumn<J> = (column: J) => unknown;

interface SessionRow<J> {
  id_hash: string;
  sub: string;
  email: string | null;
  name: string | null;
  groups: J;
  claims: J;
  idp_refresh_token_enc: string | null;
  idp_id_token_enc: string | null;
  idp_expires_at: number;
  created_at: number;
  expires_at: number;
}

interface SigningKeyRow {
  kid: string;
  alg: 'ES256';
  public_jwk: string;
  private_jwk_enc: string;
  created_at: number;
  retired_at: number | null;
}

interface UserRow<J> {
  email: string;
  name: string | null;
  groups: J;
  password_hash: string;
  created_at: number;
}

interface OAuthRow<J> {
  id_hash: string;
  model: string;
  /** The plain id, for the models that keep it only (`keepsPlainId`). */
  id: string | null;
  payload: J;
  grant_id: string | null;
  uid: string | null;
  user_code: string | null;
  account_id: string | null;
  expires_at: number | null;
  consumed_at: number | null;
}

/** What reading an `oauth_records` row into a record needs of it. */
type OAuthRecordColumns<J> = Pick<OAuthRow<J>, 'payload' | 'expires_at' | 'consumed_at'>;

interface OAuthClientRow<J> {
  client_id: string;
  metadata: J;
  fingerprint: string;
  created_at: number;
  last_used_at: number | null;
}

interface ConsentRow<J> {
  sub: string;
  resource: string;
  client_key: string;
  client_name: string;
  client_id: string | null;
  redirect_uri: string | null;
  scopes: J;
  granted_at: number;
}

interface IdentityRow<J> {
  sub: string;
  email: string | null;
  name: string | null;
  groups: J;
  claims: J;
  updated_at: number;
}

interface UpstreamTokenRow<J> {
  sub: string;
  route_key: string;
  upstream_key: string;
  access_token_enc: string;
  refresh_token_enc: string | null;
  scopes: J;
  expires_at: number | null;
  created_at: number;
  updated_at: number;
  version: number;
}

interface UpstreamClientRow {
  issuer: string;
  redirect_uri: string;
  client_id: string;
  client_secret_enc: string | null;
  token_endpoint_auth_method: string;
  created_at: number;
}

/** Every table's row, by table name, with JSON columns of type `J`. */
interface Tables<J> {
  sessions: SessionRow<J>;
  signing_keys: SigningKeyRow;
  users: UserRow<J>;
  oauth_records: OAuthRow<J>;
  oauth_clients: OAuthClientRow<J>;
  consents: ConsentRow<J>;
  identities: IdentityRow<J>;
  upstream_tokens: UpstreamTokenRow<J>;
  upstream_clients: UpstreamClientRow;
}

type Table = keyof Tables<unknown>;

/** A row of `T` as better-sqlite3 returns it: JSON columns are TEXT. */
export type SqliteRow<T extends Table> = Tables<string>[T];

/** A row of `T` as pg returns it: JSONB columns arrive parsed. */
export type PostgresRow<T extends Table> = Tables<unknown>[T];

/** The row readers of a backend whose JSON columns `json` decodes. */
function rowReader<J>(json: JsonColumn<J>) {
  return {
    toSession: (row: SessionRow<J>) => toSession(row, json),
    toSigningKey,
    toUser: (row: UserRow<J>) => toUser(row, json),
    toOAuthRecord: (row: OAuthRecordColumns<J>) => toOAuthRecord(row, json),
    toOAuthClient: (row: OAuthClientRow<J>) => toOAuthClient(row, json),
    toConsent: (row: ConsentRow<J>) => toConsent(row, json),
    toIdentity: (row: IdentityRow<J>) => toIdentity(row, json),
    toUpstreamToken: (row: UpstreamTokenRow<J>) => toUpstreamToken(row, json),
    toUpstreamClient,
  };
}

export const sqliteRows = rowReader<string>((text) => JSON.parse(text));

export const postgresRows = rowReader<unknown>((value) => value);

function toSession<J>(row: SessionRow<J>, json: JsonColumn<J>): SessionRecord {
  return {
    idHash: row.id_hash,
    sub: row.sub,
    email: row.email,
    name: row.name,
    groups: json(row.groups) as string[],
    claims: json(row.claims) as Record<string, unknown>,
    idpRefreshTokenEnc: row.idp_refresh_token_enc,
    idpIdTokenEnc: row.idp_id_token_enc,
    idpExpiresAt: row.idp_expires_at,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
  };
}

function toSigningKey(row: SigningKeyRow): SigningKeyRecord {
  return {
    kid: row.kid,
    alg: row.alg,
    publicJwk: row.public_jwk,
    privateJwkEnc: row.private_jwk_enc,
    createdAt: row.created_at,
    retiredAt: row.retired_at,
  };
}

function toUser<J>(row: UserRow<J>, json: JsonColumn<J>): UserRecord {
  return {
    email: row.email,
    name: row.name,
    groups: json(row.groups) as string[],
    passwordHash: row.password_hash,
    createdAt: row.created_at,
  };
}

function toOAuthRecord<J>(row: OAuthRecordColumns<J>, json: JsonColumn<J>): OAuthRecord {
  return {
    payload: json(row.payload) as Record<string, unknown>,
    expiresAt: row.expires_at,
    consumedAt: row.consumed_at,
  };
}

function toOAuthClient<J>(row: OAuthClientRow<J>, json: JsonColumn<J>): OAuthClientRecord {
  return {
    clientId: row.client_id,
    metadata: json(row.metadata) as Record<string, unknown>,
    fingerprint: row.fingerprint,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
  };
}

function toConsent<J>(row: ConsentRow<J>, json: JsonColumn<J>): ConsentRecord {
  return {
    sub: row.sub,
    resource: row.resource,
    clientKey: row.client_key,
    clientName: row.client_name,
    clientId: row.client_id,
    redirectUri: row.redirect_uri,
    scopes: json(row.scopes) as string[],
    grantedAt: row.granted_at,
  };
}

function toIdentity<J>(row: IdentityRow<J>, json: JsonColumn<J>): IdentityRecord {
  return {
    sub: row.sub,
    email: row.email,
    name: row.name,
    groups: json(row.groups) as string[],
    claims: json(row.claims) as Record<string, unknown>,
    updatedAt: row.updated_at,
  };
}

function toUpstreamToken<J>(row: UpstreamTokenRow<J>, json: JsonColumn<J>): UpstreamTokenRecord {
  return {
    sub: row.sub,
    routeKey: row.route_key,
    upstreamKey: row.upstream_key,
    accessTokenEnc: row.access_token_enc,
    refreshTokenEnc: row.refresh_token_enc,
    scopes: json(row.scopes) as string[],
    expiresAt: row.expires_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    version: row.version,
  };
}

function toUpstreamClient(row: UpstreamClientRow): UpstreamClientRecord {
  return {
    issuer: row.issuer,
    redirectUri: row.redirect_uri,
    clientId: row.client_id,
    clientSecretEnc: row.client_secret_enc,
    tokenEndpointAuthMethod: row.token_endpoint_auth_method,
    createdAt: row.created_at,
  };
}
