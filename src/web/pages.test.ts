import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { renderError } from './error-page.js';
import { escapeHtml, html } from './html.js';
import { PORTAL_PAGE_OPTIONS, renderPortal } from './portal-page.js';
import { PAGE_STYLE, pageCsp, pageHeaders } from './respond.js';
import { renderSignIn } from './signin-page.js';

describe('html', () => {
  it('escapes interpolations unless they are html', () => {
    assert.equal(
      escapeHtml(`<a href="x" onclick='y'>&\``),
      '&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&#96;',
    );
    const inner = html`<b>${'<i>'}</b>`;
    assert.equal(
      html`<p>${inner}${['<', html`&amp;`]}${null}${false}</p>`.value,
      '<p><b>&lt;i&gt;</b>&lt;&amp;</p>',
    );
  });
});

describe('pages', () => {
  it('sign-in page: labelled Email and Password, a Sign in button, escaped values', () => {
    const page = renderSignIn({ action: '/x', email: '"><script>', error: '<b>no</b>' }).value;
    assert.match(page, /<label for="email">Email<\/label>/);
    assert.match(page, /<label for="password">Password<\/label>/);
    assert.match(page, /<button type="submit">Sign in<\/button>/);
    assert.ok(!page.includes('<script>'));
    assert.ok(page.includes('&lt;b&gt;no&lt;/b&gt;'));
  });

  it('portal lists MCP server URLs and escapes them', () => {
    const page = renderPortal({
      user: { sub: 's', email: 'a@example.com', name: 'A <B>' },
      servers: [{ name: 'DB', description: 'SQL <db>', url: 'https://db.example.com/sqlite' }],
    }).value;
    assert.match(page, /https:\/\/db\.example\.com\/sqlite/);
    assert.match(page, /A &lt;B&gt;/);
    assert.match(page, /SQL &lt;db&gt;/);
    assert.match(page, /action="\/\.pomerium\/sign_out"/);
  });

  it('portal: connection states, Connect and Disconnect, clients with Revoke, all escaped', () => {
    const page = renderPortal({
      user: { sub: 's', email: null, name: null },
      servers: [
        { name: 'Open', url: 'https://db.example.com/open' },
        {
          name: 'Notes',
          url: 'https://db.example.com/notes',
          upstream: {
            connected: false,
            renews: false,
            connectUrl: 'https://db.example.com/c?a=1&b=2',
          },
        },
        {
          name: 'Mail',
          url: 'https://db.example.com/mail"x',
          upstream: {
            connected: true,
            expiresAt: '2026-05-01T10:20:30.000Z',
            renews: true,
            connectUrl: '',
          },
        },
      ],
      clients: [
        {
          key: 'k'.repeat(64),
          name: 'Evil <script>',
          host: '127.0.0.1:9',
          servers: ['Open'],
          authorizedAt: Date.UTC(2026, 0, 2, 3, 4),
          lastUsedAt: null,
          active: true,
        },
      ],
      message: { kind: 'error', text: 'Could not connect: <b>x</b>' },
    }).value;
    assert.match(page, /Ready/);
    assert.match(
      page,
      /Not connected[\s\S]*href="https:\/\/db\.example\.com\/c\?a=1&amp;b=2">Connect/,
    );
    assert.match(page, /Connected[\s\S]*2026-05-01 10:20 UTC[\s\S]*renewed automatically/);
    assert.match(page, /action="\/\.pomerium\/portal\/disconnect"/);
    assert.match(page, /name="route" value="https:\/\/db\.example\.com\/mail&quot;x"/);
    assert.match(page, /Evil &lt;script&gt;/);
    assert.match(page, /name="client" value="k{64}"/);
    assert.match(page, /2026-01-02 03:04 UTC/);
    assert.match(page, /Could not connect: &lt;b&gt;x&lt;\/b&gt;/);
    assert.match(page, /claude mcp add --transport http notes https:\/\/db\.example\.com\/notes/);
    // Copy buttons stay hidden unless the script shows them.
    assert.ok(
      [...page.matchAll(/<button[^>]*data-copy=[^>]*>/g)].every((m) => / hidden/.test(m[0])),
    );
  });

  it('portal: its one script is allowed by its hash, and its forms get an Origin', () => {
    const page = renderPortal({ user: { sub: 's', email: null, name: null }, servers: [] }).value;
    const scripts = [...page.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]!);
    assert.equal(scripts.length, 1);
    const hash = createHash('sha256').update(scripts[0]!).digest('base64');
    const headers = pageHeaders([], PORTAL_PAGE_OPTIONS);
    assert.match(
      headers['content-security-policy'] ?? '',
      new RegExp(`script-src 'sha256-${hash.replace(/[+/]/g, '\\$&')}';`),
    );
    assert.equal(headers['referrer-policy'], 'same-origin');
    assert.match(page, /<meta name="referrer" content="same-origin">/);
    assert.doesNotMatch(pageCsp(), /script-src/, 'other pages run nothing');
  });

  it('error page shows the message and reference only', () => {
    const page = renderError({ title: 'T', message: 'M <x>', reference: 'ERR_X' }).value;
    assert.match(page, /M &lt;x&gt;/);
    assert.match(page, /ERR_X/);
  });

  it('headers: strict CSP whose style hash matches the inline style, no-store, DENY', () => {
    const hash = createHash('sha256').update(PAGE_STYLE).digest('base64');
    assert.equal(
      pageCsp(),
      `default-src 'none'; style-src 'sha256-${hash}'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
    );
    assert.ok(renderSignIn({ action: '/' }).value.includes(`<style>${PAGE_STYLE}</style>`));
    const headers = pageHeaders(['https://auth.example.com']);
    assert.equal(headers['cache-control'], 'no-store');
    assert.equal(headers['x-frame-options'], 'DENY');
    assert.equal(headers['referrer-policy'], 'no-referrer');
    assert.match(
      headers['content-security-policy'] ?? '',
      /form-action 'self' https:\/\/auth\.example\.com;/,
    );
  });
});
