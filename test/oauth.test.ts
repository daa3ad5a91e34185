import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { TokenProvider } from '../src/oauth';

/** The Microsoft 365 client-credentials flow against a real local HTTP token endpoint. */

let server: http.Server;
let url: string;
const requests: URLSearchParams[] = [];
let fail = false;
let entraError: { error: string; error_description: string } | null = null;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      requests.push(new URLSearchParams(body));
      res.setHeader('content-type', 'application/json');
      if (entraError) {
        res.statusCode = 400;
        res.end(JSON.stringify(entraError));
      } else if (fail) {
        res.statusCode = 401;
        res.end(JSON.stringify({ error: 'invalid_client' }));
      } else res.end(JSON.stringify({ access_token: `token-${requests.length}`, expires_in: 3600 }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

test('fetches a token with client credentials, caches it, and refreshes it before it expires', async () => {
  let now = 1_000_000;
  const p = new TokenProvider({ tenantId: 't', clientId: 'cid', clientSecret: 'sec' }, url, () => now);
  expect(await p.accessToken()).toBe('token-1');
  expect(requests[0]!.get('grant_type')).toBe('client_credentials');
  expect(requests[0]!.get('client_id')).toBe('cid');
  expect(requests[0]!.get('scope')).toBe('https://outlook.office365.com/.default');
  now += 30 * 60_000;
  expect(await p.accessToken()).toBe('token-1');
  now += 26 * 60_000; // within five minutes of expiry
  expect(await p.accessToken()).toBe('token-2');
});

test('a refused token request is a coded error', async () => {
  fail = true;
  const p = new TokenProvider({ tenantId: 't', clientId: 'cid', clientSecret: 'bad' }, url);
  await expect(p.accessToken()).rejects.toMatchObject({ code: 'IMAP_ERROR', message: expect.stringContaining('401') });
  fail = false;
});

test.each([
  ['AADSTS700016', 'unauthorized_client', 'OAUTH_CLIENT_ID'],
  ['AADSTS90002', 'invalid_request', 'OAUTH_TENANT_ID'],
  ['AADSTS7000222', 'invalid_client', 'has expired'],
  ['AADSTS7000215', 'invalid_client', "secret's Value"],
])('Entra error %s is explained', async (code, error, hint) => {
  entraError = { error, error_description: `${code}: Entra says no. Trace ID: 1 Correlation ID: 2` };
  try {
    const p = new TokenProvider({ tenantId: 't', clientId: 'cid', clientSecret: 'sec' }, url);
    const err = (await p.accessToken().catch((e: unknown) => e)) as Error & { code: string };
    expect(err.code).toBe('IMAP_ERROR');
    expect(err.message).toContain(code);
    expect(err.message).toContain(hint);
    expect(p.state).toMatchObject({ failures: 1, lastError: code });
  } finally {
    entraError = null;
  }
});
