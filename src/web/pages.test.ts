import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { renderError } from './error-page.js';
import { escapeHtml, html } from './html.js';
import { renderPortal } from './portal-page.js';
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
