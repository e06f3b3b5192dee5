import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { compileTrustedProxies } from '../net/trusted-proxies.js';
import { downstreamHeaders, upstreamRequestHeaders, type RequestHeaderContext } from './headers.js';
import { claimHeaderNames } from './identity-headers.js';

const trusted = compileTrustedProxies(['10.0.0.0/8', '::1', 'fd00::/8']);
const ctx = (over: Partial<RequestHeaderContext> = {}): RequestHeaderContext => ({
  peerAddress: '203.0.113.7',
  listenerScheme: 'https',
  trustedProxy: trusted,
  routeKind: 'plain',
  preserveHostHeader: false,
  claimHeaders: claimHeaderNames({ 'X-Email': 'email', 'X-Dept': 'department' }),
  ...over,
});

/** A raw field list as undici hands it over: name, value, … as latin1 Buffers. */
const raw = (...fields: string[]) => fields.map((f) => Buffer.from(f, 'latin1'));

test('hop-by-hop fields go, with every field Connection names (RFC 9110 §7.6.1)', () => {
  const h = raw(
    'Connection',
    'keep-alive, X-Secret-Hop',
    'connection',
    'x-other',
    'Keep-Alive',
    'timeout=5',
    'proxy-connection',
    'keep-alive',
    'te',
    'gzip',
    'Transfer-Encoding',
    'chunked',
    'upgrade',
    'websocket',
    'proxy-authorization',
    'Basic xyz',
    'proxy-authenticate',
    'Basic',
    'expect',
    '100-continue',
    'X-Secret-Hop',
    '1',
    'x-other',
    '2',
    'Content-Type',
    'application/json',
    'Set-Cookie',
    'a=1',
    'set-cookie',
    'b=2',
  );
  assert.deepEqual(downstreamHeaders(h), {
    'content-type': 'application/json',
    'set-cookie': ['a=1', 'b=2'],
  });
});

test('a repeated field is joined, a single-valued one keeps its first value', () => {
  const out = downstreamHeaders(
    raw('Vary', 'accept', 'vary', 'origin', 'Content-Length', '5', 'content-length', '5'),
  );
  assert.deepEqual(out, { vary: 'accept, origin', 'content-length': '5' });
  assert.deepEqual(downstreamHeaders(['x-é', 'caf\u00e9']), { 'x-é': 'café' }, 'latin1 text');
});

test('an upstream Set-Cookie for a gateway cookie is dropped, the upstream’s own kept', () => {
  const lines = [
    'portcullis_session=evil; Path=/',
    '__Secure-portcullis_idp_session=evil',
    ' portcullis_mcp_session =evil',
    'theme=dark',
    'portcullis=kept',
  ];
  const out = downstreamHeaders(raw(...lines.flatMap((l) => ['set-cookie', l])));
  assert.deepEqual(out['set-cookie'], ['theme=dark', 'portcullis=kept']);
  assert.equal(downstreamHeaders(raw('set-cookie', 'portcullis_x=1'))['set-cookie'], undefined);
});

test('the MCP headers pass', () => {
  const out = upstreamRequestHeaders(
    {
      host: 'db.example.com',
      'mcp-session-id': 's-1',
      'mcp-protocol-version': '2025-11-25',
      'last-event-id': '42',
      accept: 'application/json, text/event-stream',
    },
    ctx({ routeKind: 'mcp-server' }),
  );
  assert.equal(out['mcp-session-id'], 's-1');
  assert.equal(out['mcp-protocol-version'], '2025-11-25');
  assert.equal(out['last-event-id'], '42');
  assert.equal(out.accept, 'application/json, text/event-stream');
});

test('TE: trailers survives (RFC 9110 §10.1.4), other codings do not', () => {
  const a = upstreamRequestHeaders({ te: 'trailers, deflate;q=0.5' }, ctx());
  assert.equal(a.te, 'trailers');
  assert.equal(a.connection, 'te');
  const b = upstreamRequestHeaders({ te: 'gzip' }, ctx());
  assert.equal(b.te, undefined);
  assert.equal(b.connection, undefined);
});

test('client X-Pomerium-* headers never reach an upstream', () => {
  const out = upstreamRequestHeaders(
    { 'x-pomerium-jwt-assertion': 'forged', 'x-pomerium-claim-email': 'a@b', 'x-pomero': 'ok' },
    ctx(),
  );
  assert.deepEqual(
    Object.keys(out).filter((k) => k.startsWith('x-pomerium')),
    [],
  );
  assert.equal(out['x-pomero'], 'ok');
});

test('client-sent claim headers never reach an upstream, on any route kind', () => {
  for (const routeKind of ['mcp-server', 'mcp-client', 'plain'] as const) {
    const out = upstreamRequestHeaders(
      { 'x-email': 'ceo@example.com', 'x-dept': 'finance', 'x-department': 'kept' },
      ctx({ routeKind }),
    );
    assert.equal(out['x-email'], undefined, routeKind);
    assert.equal(out['x-dept'], undefined, routeKind);
    assert.equal(out['x-department'], 'kept', routeKind);
  }
});

test('the gateway’s cookies are taken out of Cookie, on any route kind', () => {
  for (const routeKind of ['mcp-server', 'mcp-client', 'plain'] as const) {
    const mixed = upstreamRequestHeaders(
      { cookie: 'a=1; portcullis_session=s; portcullis_mcp_session=m; b=2' },
      ctx({ routeKind }),
    );
    assert.equal(mixed.cookie, 'a=1; b=2', routeKind);
    const ours = upstreamRequestHeaders({ cookie: 'portcullis_session=s' }, ctx({ routeKind }));
    assert.equal('cookie' in ours, false, routeKind);
  }
});

// [route kind, authorization forwarded, origin forwarded]
const credentialCases: [RequestHeaderContext['routeKind'], boolean, boolean][] = [
  ['mcp-server', false, false],
  // Client mode: the gateway sends the app its own token instead (credentials step).
  ['mcp-client', false, true],
  ['plain', true, true],
];

test('Authorization is dropped on MCP routes, Origin on mcp.server routes only', () => {
  for (const [routeKind, auth, origin] of credentialCases) {
    const out = upstreamRequestHeaders(
      { authorization: 'Bearer te', origin: 'https://app.example' },
      ctx({ routeKind }),
    );
    assert.equal(out.authorization !== undefined, auth, routeKind);
    assert.equal(out.origin !== undefined, origin, routeKind);
  }
});

test('Host is left to the forwarder unless preserved', () => {
  assert.equal(upstreamRequestHeaders({ host: 'a.example' }, ctx()).host, undefined);
  const kept = upstreamRequestHeaders({ host: 'a.example' }, ctx({ preserveHostHeader: true }));
  assert.equal(kept.host, 'a.example');
});

const forwardedIn: IncomingHttpHeaders = {
  host: 'db.example.com',
  'x-forwarded-for': '198.51.100.1, 10.1.1.1',
  'x-forwarded-proto': 'http',
  'x-forwarded-host': 'spoof.example',
  'x-forwarded-port': '1',
  forwarded: 'for=1.2.3.4',
  'x-real-ip': '1.2.3.4',
};

// [peer, expected X-Forwarded-For, Proto, Host, other forwarding headers kept]
const forwardedCases: [string | undefined, string | undefined, string, string, boolean][] = [
  ['203.0.113.7', '203.0.113.7', 'https', 'db.example.com', false],
  ['::ffff:203.0.113.7', '203.0.113.7', 'https', 'db.example.com', false],
  ['10.2.3.4', '198.51.100.1, 10.1.1.1, 10.2.3.4', 'http', 'spoof.example', true],
  ['::ffff:10.2.3.4', '198.51.100.1, 10.1.1.1, 10.2.3.4', 'http', 'spoof.example', true],
  ['::1', '198.51.100.1, 10.1.1.1, ::1', 'http', 'spoof.example', true],
  ['fd12::5', '198.51.100.1, 10.1.1.1, fd12::5', 'http', 'spoof.example', true],
  ['fe80::1', 'fe80::1', 'https', 'db.example.com', false],
  [undefined, undefined, 'https', 'db.example.com', false],
];

test('X-Forwarded-* extended for trusted proxies, replaced for anyone else', () => {
  for (const [peer, xff, proto, host, kept] of forwardedCases) {
    const out = upstreamRequestHeaders(forwardedIn, ctx({ peerAddress: peer }));
    const label = String(peer);
    assert.equal(out['x-forwarded-for'], xff, label);
    assert.equal(out['x-forwarded-proto'], proto, label);
    assert.equal(out['x-forwarded-host'], host, label);
    assert.equal(out.forwarded !== undefined, kept, label);
    assert.equal(out['x-forwarded-port'] !== undefined, kept, label);
    assert.equal(out['x-real-ip'] !== undefined, kept, label);
  }
});

test('a trusted proxy that sent no X-Forwarded-* gets them set', () => {
  const out = upstreamRequestHeaders({ host: 'h.example' }, ctx({ peerAddress: '10.0.0.1' }));
  assert.equal(out['x-forwarded-for'], '10.0.0.1');
  assert.equal(out['x-forwarded-proto'], 'https');
  assert.equal(out['x-forwarded-host'], 'h.example');
});
