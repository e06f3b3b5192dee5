import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fromRoot } from '../../test/support/paths.js';
import { LETS_ENCRYPT } from './autocert.js';
import { ConfigValidationError, formatIssue } from './issues.js';
import { analyzeConfig, loadConfig, parseConfig } from './load.js';

const fixture = (name: string) => fromRoot('test', 'fixtures', 'config', name);
const SECRET = 'wC4RFsEdM1gHFzvRt3XW+iWw6Ddt/1kKkdh66OKxiqs=';

/** Every issue of `text` as `FILE:LINE key: message`, errors first-class, warnings prefixed. */
function issues(text: string, env: Record<string, string> = {}) {
  const { issues } = analyzeConfig(text, 'c.yaml', env);
  return {
    errors: issues.filter((i) => i.severity === 'error').map(formatIssue),
    warnings: issues.filter((i) => i.severity === 'warning').map(formatIssue),
  };
}

/** A minimal valid config plus `extra` lines, so each test states only what it is about. */
const base = (extra: string) =>
  `shared_secret: ${SECRET}\ncookie_secret: ${SECRET}\ninsecure_server: true\naddress: 127.0.0.1:8080\n${extra}`;

test('the original sample config loads, with a warning for each thing it asks that we do not do', () => {
  const file = fixture('pomerium-mcp-servers-sample-config.yaml');
  // On PostgreSQL (replicas) the secrets must be set: the sample leaves them to the environment.
  const env = { SHARED_SECRET: SECRET, COOKIE_SECRET: SECRET };
  const { config, warnings } = loadConfig(file, env);
  const byKey = new Map(warnings.map((w) => [w.key, `${w.line} ${w.message}`]));
  // autocert is supported (Let's Encrypt, challenges on :80); with shared_secret, no warning.
  assert.equal(byKey.get('autocert'), undefined);
  assert.equal(config.tls?.autocert?.directoryUrl, LETS_ENCRYPT.production);
  assert.equal(config.tls?.httpRedirect?.address.port, 80);
  // Its PostgreSQL storage is supported as written: no warning.
  assert.equal(byKey.get('databroker_storage_type'), undefined);
  assert.equal(byKey.get('databroker_storage_connection_string'), undefined);
  assert.match(byKey.get('runtime_flags.mcp') ?? '', /^16 MCP support is always on/);
  assert.match(
    byKey.get('routes[0].mcp') ?? '',
    /^24 legacy mcp shape.*mcp\.server\.upstream_oauth2/,
  );
  assert.match(byKey.get('signing_key') ?? '', /generated/);
  assert.equal(byKey.get('certificate_file'), undefined);
  const route = config.routes[0]!;
  assert.equal(route.from, 'https://notion.your-domain');
  assert.deepEqual(route.to, ['http://mcp-servers:8080/notion']);
  assert.equal(route.mcp?.kind, 'server');
  if (route.mcp?.kind !== 'server') return;
  assert.equal(route.mcp.resourceUrl, 'https://notion.your-domain');
  assert.equal(route.mcp.upstreamOauth2?.clientId, 'xxx');
  assert.deepEqual(route.mcp.upstreamOauth2?.scopes, ['read:user', 'user:email']);
  assert.equal(
    route.mcp.upstreamOauth2?.endpoint?.tokenUrl,
    'https://api.notion.com/v1/oauth/token',
  );
  assert.deepEqual(route.policy, [
    {
      action: 'allow',
      when: {
        type: 'or',
        terms: [
          { type: 'criterion', name: 'domain', matchers: [{ op: 'is', value: 'YOUR-DOMAIN' }] },
        ],
      },
    },
  ]);
  assert.deepEqual(config.storage, {
    type: 'postgres',
    connectionString: 'postgresql://postgres:postgres@postgres:5432/pomerium?sslmode=disable',
  });
});

test('the current shape maps onto the typed config, which is deeply frozen', () => {
  const { config, warnings } = loadConfig(fixture('valid.yaml'), {});
  assert.deepEqual(
    warnings.map((w) => w.key),
    ['signing_key'],
  );
  assert.deepEqual(config.address, { host: '127.0.0.1', port: 8443 });
  assert.deepEqual(config.tls, {
    certificates: [
      {
        kind: 'files',
        certFile: '/etc/portcullis/tls.crt',
        keyFile: '/etc/portcullis/tls.key',
        at: {
          cert: { file: fixture('valid.yaml'), line: 5, key: 'certificate_file' },
          key: { file: fixture('valid.yaml'), line: 6, key: 'certificate_key_file' },
        },
      },
    ],
    autocert: null,
    httpRedirect: null,
  });
  assert.deepEqual(config.idp, {
    provider: 'oidc',
    providerUrl: 'https://accounts.example.com',
    clientId: 'portcullis',
    clientSecret: 's3cret',
    scopes: ['openid', 'profile', 'email', 'offline_access'],
  });
  assert.deepEqual(config.storage, { type: 'sqlite', file: '/var/lib/portcullis/portcullis.db' });
  assert.deepEqual(config.jwtClaimsHeaders, { 'X-Email': 'email' });
  assert.equal(config.logLevel, 'debug');
  assert.equal(config.runtimeFlags.mcpDynamicClientRegistration, false);
  const [db, app] = config.routes;
  assert.equal(db?.timeoutMs, 30_000);
  assert.equal(db?.idleTimeoutMs, 300_000);
  assert.equal(db?.mcp?.kind === 'server' && db.mcp.resourceUrl, 'https://db.example.com/mcp');
  assert.equal(db?.policy.length, 2);
  assert.deepEqual(app?.to, ['http://app-1:3000', 'http://app-2:3000']);
  assert.deepEqual(app?.match, { kind: 'prefix', prefix: '/chat' });
  assert.deepEqual(app?.mcp, { kind: 'client' });
  assert.ok(Object.isFrozen(config) && Object.isFrozen(config.routes[0]?.policy[0]?.when));
  assert.throws(() => {
    (config.routes as unknown as unknown[]).push({});
  }, TypeError);
});

test('defaults: dynamic client registration on, sqlite storage in PORTCULLIS_DATA_DIR', () => {
  const { config } = parseConfig(base(''), 'c.yaml', { PORTCULLIS_DATA_DIR: '/srv/data' });
  assert.equal(config.runtimeFlags.mcpDynamicClientRegistration, true);
  assert.deepEqual(config.storage, { type: 'sqlite', file: '/srv/data/portcullis.db' });
  assert.deepEqual(config.idp, { provider: 'builtin', users: [] });
});

test('a YAML syntax error is reported with its line', () => {
  assert.deepEqual(issues('address: :80\nroutes:\n  - name: DB: shop\n').errors, [
    'c.yaml:3 (yaml): Nested mappings are not allowed in compact mappings',
  ]);
  assert.deepEqual(issues('address: :80\nlog_level: info\naddress: :81\n').errors, [
    'c.yaml:3 (yaml): Map keys must be unique',
  ]);
});

test('unknown keys are errors at their line, with a suggestion; Pomerium keys we lack are warnings', () => {
  const { errors, warnings } = issues(
    base(
      'log_levle: debug\nroutes:\n  - from: https://a.example.com\n    to: http://a\n' +
        '    allow_any_authenticated_user: true\n    mcp:\n      server:\n        pathh: /x\n' +
        '    tls_skip_verify: true\n',
    ),
  );
  assert.deepEqual(errors, [
    'c.yaml:5 log_levle: unknown key; did you mean log_level?',
    'c.yaml:12 routes[0].mcp.server.pathh: unknown key',
  ]);
  assert.ok(
    warnings.includes(
      'c.yaml:13 routes[0].tls_skip_verify: Pomerium setting not supported yet: ignored',
    ),
  );
});

test('wrong types name the key, the line and what is expected', () => {
  const { errors } = issues(
    'insecure_server: "yes"\nidp_scopes: openid\nroutes:\n  - from: https://a.example.com\n' +
      '    to: 42\n    pass_identity_headers: 1\n    policy: []\n',
  );
  assert.deepEqual(errors, [
    'c.yaml:1 insecure_server: expected boolean, received string',
    'c.yaml:2 idp_scopes: expected array, received string',
    'c.yaml:5 routes[0].to: expected a URL or a non-empty list of URLs',
    'c.yaml:6 routes[0].pass_identity_headers: expected boolean, received number',
  ]);
  assert.deepEqual(issues('routes:\n  - to: http://a\n').errors, [
    'c.yaml:2 routes[0].from: required: expected string',
  ]);
});

test('postgres storage requires shared_secret and cookie_secret: one error line for each unset', () => {
  const pg =
    'databroker_storage_type: postgres\ndatabroker_storage_connection_string: postgres://db/p\n';
  const required = (key: string) =>
    `c.yaml:2 ${key}: required with postgres storage: every replica must have the same one (a generated one would make each replica’s cookies and stored tokens unreadable to the others)`;
  assert.deepEqual(issues(`insecure_server: true\n${pg}`).errors, [
    required('shared_secret'),
    required('cookie_secret'),
  ]);
  const found = issues(`insecure_server: true\ncookie_secret: ${SECRET}\n${pg}`);
  assert.deepEqual(found.errors, [required('shared_secret').replace(':2 ', ':3 ')]);
  assert.ok(!found.warnings.some((w) => w.includes('shared_secret')), 'the error, no warning');
  const fromEnv = issues(`insecure_server: true\n${pg}`, {
    SHARED_SECRET: SECRET,
    COOKIE_SECRET: SECRET,
  });
  assert.deepEqual(fromEnv.errors, []);
  assert.deepEqual(issues(`insecure_server: true\ndatabroker_storage_type: sqlite\n`).errors, []);
});

test('postgres storage takes a postgresql:// URL, and requires one', () => {
  const pg = (conn: string) =>
    base(`databroker_storage_type: postgres\ndatabroker_storage_connection_string: ${conn}\n`);
  for (const url of ['postgresql://gw:pw@db:5432/portcullis', 'postgres://db/p?sslmode=require']) {
    const { config } = parseConfig(pg(url), 'c.yaml', {});
    assert.deepEqual(config.storage, { type: 'postgres', connectionString: url });
    const keys = issues(pg(url)).warnings.filter((w) => w.includes('databroker_storage'));
    assert.deepEqual(keys, []);
  }
  assert.deepEqual(issues(pg('/var/lib/portcullis.db')).errors, [
    'c.yaml:6 databroker_storage_connection_string: expected a postgresql:// URL for postgres storage',
  ]);
  assert.deepEqual(issues(base('databroker_storage_type: postgres\n')).errors, [
    'c.yaml:5 databroker_storage_connection_string: required for postgres storage: a postgresql:// URL',
  ]);
  // The pool, deadline and TLS options are checked with the rest of the file.
  assert.deepEqual(issues(pg('postgresql://db/p?pool_max_conns=0&sslmode=verify-full')).errors, [
    'c.yaml:6 databroker_storage_connection_string: pool_max_conns: expected a whole number of at least 1, got "0"',
  ]);
});

test('every error of a file is reported in one run, schema and policy alike', () => {
  const file = fixture('many-errors.yaml');
  const { config, issues: found } = analyzeConfig(readFileSync(file, 'utf8'), 'm.yaml', {});
  assert.equal(config, null);
  assert.deepEqual(
    found.filter((i) => i.severity === 'error').map((i) => `${i.line} ${i.key}`),
    [
      '3 sharde_secret',
      '4 insecure_server',
      '5 databroker_storage_type',
      '7 routes[0].from',
      '10 routes[0].path',
      '14 routes[0].policy[0].allow.and[0].emial',
      '18 routes[1].regex',
      '21 routes[1].policy.allow.or',
      '30 routes[2].policy[0].deny.or[0].mcp_tool.equals',
      '33 routes[2].mcp.server.max_request_bytes',
    ],
  );
  assert.throws(
    () => parseConfig(readFileSync(file, 'utf8'), 'm.yaml', {}),
    (err: unknown) =>
      err instanceof ConfigValidationError &&
      err.code === 'ERR_CONFIG' &&
      err.issues.filter((i) => i.severity === 'error').length === 10 &&
      /m\.yaml:14 routes\[0\]\.policy\[0\]\.allow\.and\[0\]\.emial: unknown criterion/.test(
        err.message,
      ),
  );
});

test('environment variables named after the upper-cased key override the file', () => {
  const text = `address: :443\nshared_secret: not-base64!\ncookie_secret: ${SECRET}\nidp_scopes: [openid]\n`;
  const env = {
    ADDRESS: '127.0.0.1:9000',
    SHARED_SECRET: SECRET,
    INSECURE_SERVER: 'true',
    IDP_PROVIDER: 'oidc',
    IDP_PROVIDER_URL: 'https://id.example.com',
    IDP_CLIENT_ID: 'gw',
    IDP_SCOPES: 'openid, email',
    JWT_CLAIMS_HEADERS: 'X-Email=email,X-Groups=groups',
    LOG_LEVEL: 'warn',
  };
  const { config } = parseConfig(text, 'c.yaml', env);
  assert.deepEqual(config.address, { host: '127.0.0.1', port: 9000 });
  assert.equal(config.sharedSecret, SECRET);
  assert.equal(config.insecureServer, true);
  assert.equal(config.idp.provider === 'oidc' && config.idp.providerUrl, 'https://id.example.com');
  assert.deepEqual(config.idp.provider === 'oidc' && config.idp.scopes, ['openid', 'email']);
  assert.deepEqual(config.jwtClaimsHeaders, { 'X-Email': 'email', 'X-Groups': 'groups' });
  assert.equal(config.logLevel, 'warn');
  // Without the override the file's bad secret is an error; a bad variable is named as such.
  assert.deepEqual(issues(text).errors, [
    'c.yaml:2 shared_secret: expected base64 of 32 random bytes (head -c32 /dev/urandom | base64)',
  ]);
  assert.deepEqual(issues(base(''), { INSECURE_SERVER: 'maybe' }).errors, [
    'INSECURE_SERVER (environment) insecure_server: expected boolean, received string',
  ]);
});

test('route rules: origin-only from, URL upstreams, one matcher, a compilable regex', () => {
  const route = (lines: string) =>
    issues(base(`routes:\n  - allow_any_authenticated_user: true\n${lines}`)).errors;
  assert.deepEqual(route('    from: db.example.com\n    to: http://a\n'), [
    'c.yaml:7 routes[0].from: expected an absolute http(s) URL such as https://mcp.example.com, got "db.example.com"',
  ]);
  assert.deepEqual(route('    from: https://a.example.com?x=1\n    to: [http://a, /b]\n'), [
    'c.yaml:7 routes[0].from: expected a URL with no path, query or credentials; match paths with prefix, path or regex',
    'c.yaml:8 routes[0].to[1]: expected an absolute http(s) upstream URL, got "/b"',
  ]);
  assert.deepEqual(
    route(
      '    from: https://a.example.com\n    to: http://a\n    regex: ^/x$\n    mcp: {server: {}}\n',
    ),
    [
      'c.yaml:10 routes[0].mcp.server: an MCP server route needs prefix or path (not regex) to derive its resource URL',
    ],
  );
  assert.deepEqual(
    route('    from: https://a.example.com\n    to: http://a\n    timeout: soon\n'),
    ['c.yaml:9 routes[0].timeout: expected a duration such as 30s, 1m30s or 0, got "soon"'],
  );
  assert.deepEqual(
    route('    from: https://a.example.com\n    to: http://a\n    mcp: {server: {}, client: {}}\n'),
    ['c.yaml:9 routes[0].mcp: expected exactly one of server or client'],
  );
});

test('the MCP resource URL is from + prefix or path + mcp.server.path, with no trailing slash', () => {
  const resource = (match: string, serverPath: string) => {
    const { config } = parseConfig(
      base(
        `routes:\n  - from: https://a.example.com\n    to: http://a\n    allow_any_authenticated_user: true\n${match}    mcp:\n      server: {${serverPath}}\n`,
      ),
      'c.yaml',
      {},
    );
    const mcp = config.routes[0]?.mcp;
    return mcp?.kind === 'server' ? mcp.resourceUrl : undefined;
  };
  assert.equal(resource('', ''), 'https://a.example.com');
  assert.equal(resource('    prefix: /tools/\n', 'path: /mcp/'), 'https://a.example.com/tools/mcp');
  assert.equal(resource('    path: /sqlite\n', ''), 'https://a.example.com/sqlite');
  const twice = base(
    'routes:\n  - {from: https://a.example.com, to: http://a, mcp: {server: {}}}\n' +
      '  - {from: https://A.example.com:443, to: http://b, mcp: {server: {path: /}}}\n',
  );
  assert.ok(
    issues(twice).errors.includes(
      'c.yaml:7 routes[1].from: MCP resource URL https://a.example.com is already served by routes[0]',
    ),
  );
});

test('legacy mcp keys are translated; their errors still point at the line in the file', () => {
  const { errors, warnings } = issues(
    base(
      'routes:\n  - from: https://n.example.com\n    to: http://n\n    allow_any_authenticated_user: true\n' +
        '    mcp:\n      pass_upstream_access_token: true\n      max_request_bytes: 4096\n' +
        '      upstream_oauth2:\n        client_id: 7\n        endpoint: {auth_url: https://x/a, token_url: https://x/t}\n',
    ),
  );
  assert.deepEqual(errors, [
    'c.yaml:13 routes[0].mcp.server.upstream_oauth2.client_id: expected string, received number',
  ]);
  assert.deepEqual(
    warnings.filter((w) => w.includes('routes')),
    [
      'c.yaml:9 routes[0].mcp: legacy mcp shape (no server/client) read as mcp.server: mcp.max_request_bytes is now mcp.server.max_request_bytes, mcp.upstream_oauth2 is now mcp.server.upstream_oauth2',
      'c.yaml:10 routes[0].mcp.pass_upstream_access_token: ignored: it marks a client route (now mcp.client), and this route has server keys; remove it',
    ],
  );
});

test('legacy pass_upstream_access_token alone is a client route (its successor, mcp.client)', () => {
  const text = base(
    'routes:\n  - from: https://app.example.com\n    to: http://app:3000\n    allow_any_authenticated_user: true\n' +
      '    mcp:\n      pass_upstream_access_token: true\n',
  );
  const { errors, warnings } = issues(text);
  assert.deepEqual(errors, []);
  assert.deepEqual(
    warnings.filter((w) => w.includes('routes')),
    [
      'c.yaml:10 routes[0].mcp.pass_upstream_access_token: legacy client route read as mcp.client: write `mcp: {client: {}}`',
    ],
  );
});

test('upstream_oauth2 (with or without endpoint) and authorization_server_url are built, not warned about', () => {
  const { errors, warnings } = issues(
    base(
      'routes:\n  - from: https://n.example.com\n    to: http://n\n    allow_any_authenticated_user: true\n' +
        '    mcp:\n      server:\n        authorization_server_url: https://auth.example.com\n' +
        '        upstream_oauth2:\n          client_id: c\n',
    ),
  );
  assert.deepEqual(errors, []);
  assert.deepEqual(
    warnings.filter((w) => w.includes('routes')),
    [],
  );
});

test('insecure development settings are warned about; loopback plain HTTP is not', () => {
  const plain = (address: string) =>
    issues(
      `shared_secret: ${SECRET}\ncookie_secret: ${SECRET}\ninsecure_server: true\naddress: ${address}\n`,
    ).warnings.filter((w) => w.includes('insecure_server'));
  assert.deepEqual(plain('127.0.0.1:8080'), []);
  assert.deepEqual(plain('[::1]:8080'), []);
  assert.match(
    plain(':8080')[0] ?? '',
    /^c\.yaml:3 insecure_server: plain HTTP on every interface/,
  );
  assert.match(plain('10.0.0.5:80')[0] ?? '', /plain HTTP on 10\.0\.0\.5/);
  assert.deepEqual(issues('address: localhost\n').errors, [
    'c.yaml:1 address: expected host:port or :port (such as :443 or 127.0.0.1:8080), got "localhost"',
  ]);
});

test('identity provider: oidc needs its URL and client; unknown providers are errors', () => {
  assert.deepEqual(issues(base('idp_provider: oidc\n')).errors, [
    'c.yaml:5 idp_provider_url: required when idp_provider is oidc',
    'c.yaml:5 idp_client_id: required when idp_provider is oidc',
  ]);
  assert.deepEqual(issues(base('idp_provider: github\n')).errors, [
    'c.yaml:5 idp_provider: expected oidc (any OpenID Connect provider) or builtin, got "github"',
  ]);
  const { config } = parseConfig(
    base(
      'idp_provider: builtin\nbuiltin_users:\n  - {email: a@example.com, password_hash: x, groups: [admins]}\n',
    ),
    'c.yaml',
    {},
  );
  assert.deepEqual(config.idp, {
    provider: 'builtin',
    users: [{ email: 'a@example.com', name: null, groups: ['admins'], passwordHash: 'x' }],
  });
});

test('a missing file is a configuration error naming it', () => {
  assert.throws(
    () => loadConfig('/nonexistent/portcullis.yaml', {}),
    /\/nonexistent\/portcullis\.yaml:0 \(file\): cannot read the config file: ENOENT/,
  );
});

test('trusted_proxies takes addresses and CIDR ranges; a bad entry is an error at its line', () => {
  const { config } = parseConfig(base('trusted_proxies: [10.0.0.0/8, "::1"]\n'), 'c.yaml', {});
  assert.deepEqual(config.trustedProxies, ['10.0.0.0/8', '::1']);
  assert.deepEqual(parseConfig(base(''), 'c.yaml', {}).config.trustedProxies, []);
  const { errors } = issues(base('trusted_proxies:\n  - 10.0.0.0/99\n'));
  assert.equal(errors.length, 1);
  assert.match(errors[0]!, /^c\.yaml:5 trusted_proxies: expected addresses or CIDR ranges/);
  const fromEnv = parseConfig(base(''), 'c.yaml', { TRUSTED_PROXIES: '127.0.0.1,10.1.0.0/16' });
  assert.deepEqual(fromEnv.config.trustedProxies, ['127.0.0.1', '10.1.0.0/16']);
});

test('timeout_read, timeout_idle and max_connections_per_address: defaults, file, environment', () => {
  const defaults = parseConfig(base(''), 'c.yaml', {}).config.edge;
  assert.deepEqual(defaults, {
    readTimeoutMs: 30_000,
    idleTimeoutMs: 65_000,
    maxConnectionsPerAddress: 256,
  });
  const set = parseConfig(
    base('timeout_read: 1m30s\ntimeout_idle: 5m\nmax_connections_per_address: 0\n'),
    'c.yaml',
    {},
  );
  assert.deepEqual(set.config.edge, {
    readTimeoutMs: 90_000,
    idleTimeoutMs: 300_000,
    maxConnectionsPerAddress: 0,
  });
  assert.deepEqual(
    set.warnings.filter((w) => /timeout|connections/.test(w.key)),
    [],
    'Pomerium timeout keys we act on are not warned about',
  );
  const env = parseConfig(base(''), 'c.yaml', {
    TIMEOUT_READ: '5s',
    MAX_CONNECTIONS_PER_ADDRESS: '12',
  }).config.edge;
  assert.equal(env.readTimeoutMs, 5_000);
  assert.equal(env.maxConnectionsPerAddress, 12);
  assert.deepEqual(issues(base('timeout_read: soon\n')).errors, [
    'c.yaml:5 timeout_read: expected a duration such as 30s, 1m30s or 0, got "soon"',
  ]);
  assert.deepEqual(issues(base('max_connections_per_address: -1\n')).errors, [
    'c.yaml:5 max_connections_per_address: Too small: expected number to be >=0',
  ]);
  assert.match(
    issues(base('timeout_write: 10s\n')).warnings.join('\n'),
    /timeout_write.*not supported/,
  );
});

test('metrics_address and metrics_basic_auth are read (no warning), and checked', () => {
  const auth = Buffer.from('prom:scrape secret').toString('base64');
  const text = base(`metrics_address: 127.0.0.1:9090\nmetrics_basic_auth: ${auth}\n`);
  const found = issues(text);
  assert.deepEqual(found.errors, []);
  assert.deepEqual(
    found.warnings.filter((w) => w.includes('metrics')),
    [],
    'no longer reported as unsupported',
  );
  assert.deepEqual(parseConfig(text, 'c.yaml', {}).config.metrics, {
    address: { host: '127.0.0.1', port: 9090 },
    at: { file: 'c.yaml', line: 5, key: 'metrics_address' },
    basicAuth: auth,
  });
  assert.equal(parseConfig(base(''), 'c.yaml', {}).config.metrics, null, 'off by default');
  const wrong = issues(base('metrics_address: "9090"\nmetrics_basic_auth: no-colon-here\n'));
  assert.deepEqual(
    wrong.errors.map((e) => e.split(': ')[0]),
    ['c.yaml:5 metrics_address', 'c.yaml:6 metrics_basic_auth'],
  );
  const alone = issues(base(`metrics_basic_auth: ${auth}\n`));
  assert.deepEqual(
    alone.warnings.filter((w) => w.includes('metrics')),
    ['c.yaml:5 metrics_basic_auth: ignored without metrics_address'],
  );
});
