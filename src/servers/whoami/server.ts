import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import {
  ASSERTION_HEADER,
  AssertionError,
  createAssertionVerifier,
  type Identity,
} from '../../assertion/verify.js';
import { listFromEnv, urlFromEnv } from '../../core/env.js';
import { ConfigError } from '../../core/errors.js';
import type { HostedServer, ServerContext } from '../types.js';
import { toolError, toolResult } from '../tool-result.js';

const outputSchema = {
  name: z.string().nullable().describe('Display name, when the identity provider gives one'),
  email: z.string().nullable().describe('Email address, when known'),
  sub: z.string().describe('Stable user id at the identity provider'),
  groups: z.array(z.string()).describe('Groups the user belongs to'),
};

/**
 * `/whoami`: tells the caller who the gateway says they are, from the verified
 * `X-Pomerium-Jwt-Assertion`. Always on; without verification settings the tool reports
 * that it is not configured instead of trusting an unverified token.
 */
export async function createWhoamiServer(ctx: ServerContext): Promise<HostedServer> {
  const verify = verifierFromEnv(ctx.env);
  if (!verify) {
    ctx.logger.warn(
      'whoami: ASSERTION_ISSUERS (and ASSERTION_JWKS_URL) are not set, so every call will be refused',
    );
  }
  const mcp = new McpServer({ name: 'portcullis-whoami', version: '0.1.0' });
  mcp.registerTool(
    'whoami',
    {
      title: 'Who am I',
      description:
        'Returns the signed-in user (name, email, subject id and groups) as asserted by the gateway.',
      inputSchema: {},
      outputSchema,
      annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    },
    async (_args, extra) => {
      if (!verify) {
        return toolError(
          'not_configured',
          'whoami is not configured: set ASSERTION_ISSUERS (and ASSERTION_JWKS_URL) on the servers host.',
        );
      }
      let identity: Identity;
      try {
        identity = await verify(extra.requestInfo?.headers[ASSERTION_HEADER]);
      } catch (err) {
        if (err instanceof AssertionError) {
          ctx.logger.info({ err: err.cause ?? err, code: err.code }, 'whoami: assertion refused');
          return toolError(err.code, err.message);
        }
        throw err;
      }
      return toolResult({
        name: identity.name ?? null,
        email: identity.email ?? null,
        sub: identity.sub,
        groups: identity.groups,
      });
    },
  );
  return { name: 'whoami', path: '/whoami', mcp, close: async () => {} };
}

type Env = ServerContext['env'];

function verifierFromEnv(env: Env) {
  const issuers = listFromEnv(env, 'ASSERTION_ISSUERS', []);
  const jwksUrl = urlFromEnv(env, 'ASSERTION_JWKS_URL');
  if (issuers.length === 0) {
    if (jwksUrl) {
      throw new ConfigError(
        'ASSERTION_ISSUERS',
        'required with ASSERTION_JWKS_URL: the accepted issuers',
      );
    }
    return undefined;
  }
  // Without an explicit URL, the keys come from the one configured issuer (never from a token).
  let url = jwksUrl;
  if (!url) {
    if (issuers.length > 1) {
      throw new ConfigError(
        'ASSERTION_JWKS_URL',
        'required when ASSERTION_ISSUERS lists several issuers',
      );
    }
    url = new URL(`https://${issuers[0]}/.well-known/pomerium/jwks.json`);
  }
  return createAssertionVerifier({
    jwksUrl: url,
    issuers,
    audience: env.ASSERTION_AUDIENCE?.trim() || undefined,
  });
}
