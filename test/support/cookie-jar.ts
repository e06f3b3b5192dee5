/**
 * A cookie jar and a redirect-following fetch for driving browser flows over HTTP in tests
 * (RFC 6265 §5.3 storage, §5.4 path matching; ports are ignored, as browsers do).
 */
export interface StoredCookie {
  readonly value: string;
  readonly path: string;
  readonly attributes: string;
}

export class CookieJar {
  private readonly byHost = new Map<string, Map<string, StoredCookie>>();

  store(url: URL, setCookies: readonly string[]): void {
    const jar = this.byHost.get(url.hostname) ?? new Map<string, StoredCookie>();
    this.byHost.set(url.hostname, jar);
    for (const line of setCookies) {
      const [pair = '', ...attrs] = line.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      const attr = (n: string) =>
        attrs.find((a) => a.toLowerCase().startsWith(`${n}=`))?.slice(n.length + 1);
      const maxAge = attr('max-age');
      const expires = attr('expires');
      const gone =
        (maxAge !== undefined && Number(maxAge) <= 0) ||
        (expires !== undefined && Date.parse(expires) <= Date.now());
      if (gone) jar.delete(name);
      else jar.set(name, { value, path: attr('path') ?? '/', attributes: attrs.join('; ') });
    }
  }

  header(url: URL): string {
    const jar = this.byHost.get(url.hostname);
    if (!jar) return '';
    return [...jar]
      .filter(
        ([, c]) => url.pathname === c.path || url.pathname.startsWith(c.path.replace(/\/?$/, '/')),
      )
      .map(([n, c]) => `${n}=${c.value}`)
      .join('; ');
  }

  get(hostname: string, name: string): StoredCookie | undefined {
    return this.byHost.get(hostname)?.get(name);
  }

  set(hostname: string, name: string, value: string): void {
    const jar = this.byHost.get(hostname) ?? new Map<string, StoredCookie>();
    this.byHost.set(hostname, jar);
    jar.set(name, { value, path: '/', attributes: '' });
  }

  delete(hostname: string, name: string): void {
    this.byHost.get(hostname)?.delete(name);
  }

  names(hostname: string): string[] {
    return [...(this.byHost.get(hostname)?.keys() ?? [])];
  }
}

export interface Hop {
  readonly url: URL;
  readonly status: number;
  readonly headers: Headers;
  readonly body: string;
}

/** One request with the jar's cookies; stores the response's cookies. No redirect following. */
export async function send(
  jar: CookieJar,
  url: URL | string,
  init: { method?: string; form?: Record<string, string>; headers?: Record<string, string> } = {},
): Promise<Hop> {
  const target = new URL(url);
  const headers: Record<string, string> = { ...init.headers };
  const cookie = jar.header(target);
  if (cookie) headers.cookie = cookie;
  let body: string | undefined;
  if (init.form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(init.form).toString();
  }
  const res = await fetch(target, {
    method: init.method ?? (body ? 'POST' : 'GET'),
    headers,
    body,
    redirect: 'manual',
  });
  jar.store(target, res.headers.getSetCookie());
  return { url: target, status: res.status, headers: res.headers, body: await res.text() };
}

/**
 * Follows redirects (GET) from `url` until a non-redirect; returns every hop. `init.headers`
 * go with every hop, as a browser's own headers (`Accept`) do.
 */
export async function follow(
  jar: CookieJar,
  url: URL | string,
  init: { method?: string; form?: Record<string, string>; headers?: Record<string, string> } = {},
  max = 10,
): Promise<Hop[]> {
  const hops: Hop[] = [];
  let hop = await send(jar, url, init);
  hops.push(hop);
  while (hop.status >= 300 && hop.status < 400 && hops.length <= max) {
    const location = hop.headers.get('location');
    if (!location) break;
    hop = await send(jar, new URL(location, hop.url), { headers: init.headers ?? {} });
    hops.push(hop);
  }
  return hops;
}
