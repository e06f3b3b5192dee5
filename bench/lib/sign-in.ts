/**
 * Signs in to a gateway through its built-in provider over HTTP, as a browser would: GET / →
 * provider → sign-in form → POST email and password → callback → session cookie. Every
 * request goes to 127.0.0.1 with the public origin's Host header, so a route `from:
 * http://localhost:<port>` matches without resolving `localhost`.
 */
import { request } from 'node:http';

export interface Hop {
  readonly status: number;
  readonly location: string | undefined;
  readonly setCookies: readonly string[];
  readonly body: string;
}

/** Cookies by name with their path (RFC 6265 §5.4: sent where the request path is within it). */
export type Jar = Map<string, { value: string; path: string }>;

function cookieHeader(jar: Jar, path: string): string {
  return [...jar]
    .filter(([, c]) => path === c.path || path.startsWith(c.path.replace(/\/?$/, '/')))
    .map(([name, c]) => `${name}=${c.value}`)
    .join('; ');
}

function store(jar: Jar, setCookies: readonly string[]): void {
  for (const line of setCookies) {
    const [pair = '', ...attributes] = line.split(';').map((s) => s.trim());
    const eq = pair.indexOf('=');
    const path = attributes.find((a) => /^path=/i.test(a))?.slice(5) ?? '/';
    const expired = attributes.some((a) => /^max-age=(0|-)/i.test(a));
    if (expired) jar.delete(pair.slice(0, eq));
    else jar.set(pair.slice(0, eq), { value: pair.slice(eq + 1), path });
  }
}

export function send(port: number, host: string, url: URL, jar: Jar, form?: string): Promise<Hop> {
  const headers: Record<string, string> = { host, accept: 'text/html' };
  const cookie = cookieHeader(jar, url.pathname);
  if (cookie) headers.cookie = cookie;
  if (form !== undefined) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    headers['content-length'] = String(Buffer.byteLength(form));
  }
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: url.pathname + url.search,
        method: form === undefined ? 'GET' : 'POST',
        headers,
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('error', reject);
        res.on('end', () => {
          const setCookies = res.headers['set-cookie'] ?? [];
          store(jar, setCookies);
          resolve({
            status: res.statusCode ?? 0,
            location: res.headers.location,
            setCookies,
            body,
          });
        });
      },
    );
    req.on('error', reject);
    req.end(form);
  });
}

/**
 * Returns the `Cookie:` header value that carries the session (the cookie whose name ends in
 * `portcullis_session`) after signing in as `email`.
 */
export async function signIn(
  port: number,
  origin: string,
  email: string,
  password: string,
): Promise<string> {
  const host = new URL(origin).host;
  const jar: Jar = new Map();
  const follow = async (start: URL, form?: string): Promise<{ url: URL; hop: Hop }> => {
    let url = start;
    let hop = await send(port, host, url, jar, form);
    for (let hops = 0; hop.status >= 300 && hop.status < 400 && hop.location; hops++) {
      if (hops > 10) throw new Error(`sign-in: too many redirects at ${url.href}`);
      url = new URL(hop.location, url);
      if (url.host !== host) throw new Error(`sign-in: redirected off the gateway to ${url.href}`);
      hop = await send(port, host, url, jar);
    }
    return { url, hop };
  };
  const toForm = await follow(new URL('/', origin));
  if (toForm.hop.status !== 200 || !toForm.url.pathname.includes('/interaction/')) {
    throw new Error(
      `sign-in: expected the sign-in form, got ${toForm.hop.status} at ${toForm.url}`,
    );
  }
  const done = await follow(toForm.url, new URLSearchParams({ email, password }).toString());
  const session = [...jar.keys()].find((name) => name.endsWith('portcullis_session'));
  if (done.hop.status !== 200 || session === undefined) {
    throw new Error(`sign-in as ${email} ended with ${done.hop.status} and no session cookie`);
  }
  return `${session}=${jar.get(session)!.value}`;
}
