/** A tiny browser for HTTP tests of the review UI: keeps cookies, never follows redirects. */
export class HttpClient {
  readonly cookies = new Map<string, string>();
  constructor(readonly base: string) {}

  async request(
    method: 'GET' | 'POST',
    url: string,
    form?: Record<string, string>,
    headers: Record<string, string> = {},
  ): Promise<Response> {
    const h: Record<string, string> = { ...headers };
    if (this.cookies.size) h.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    if (form) h['content-type'] = 'application/x-www-form-urlencoded';
    const res = await fetch(this.base + url, {
      method,
      headers: h,
      body: form ? new URLSearchParams(form).toString() : null,
      redirect: 'manual',
    });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const [name, ...rest] = pair!.split('=');
      const value = rest.join('=');
      if (value === '' || /max-age=0/i.test(c)) this.cookies.delete(name!.trim());
      else this.cookies.set(name!.trim(), value);
    }
    return res;
  }
  get(url: string, headers?: Record<string, string>) {
    return this.request('GET', url, undefined, headers);
  }
  post(url: string, form: Record<string, string>, headers?: Record<string, string>) {
    return this.request('POST', url, form, headers);
  }
  /** The CSRF token in a page's forms. */
  async token(url: string, headers?: Record<string, string>): Promise<string> {
    const html = await (await this.get(url, headers)).text();
    const m = /name="_csrf" value="([^"]+)"/.exec(html);
    if (!m) throw new Error(`no CSRF token on ${url}`);
    return m[1]!;
  }
  async signIn(username: string, password: string, headers?: Record<string, string>): Promise<Response> {
    const csrf = await this.token('/login', headers);
    return this.post('/login', { _csrf: csrf, username, password, next: '/cases' }, headers);
  }
}
