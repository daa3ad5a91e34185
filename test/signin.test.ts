/**
 * Sign-in that holds under concurrency (PostgreSQL and PGlite): a burst of 50 attempts at once
 * ends locked, a failure never clears a lock, attempts in flight count against the address,
 * HTTP_TRUST_PROXY keys the limit on the real client, a new password or `users disable` ends
 * sessions, Secure cookies unless bound to loopback.
 */
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { usersDisableCommand } from '../src/commands/users';
import { parseConfig } from '../src/config';
import type { AppContext } from '../src/context';
import { auditEvents, users } from '../src/db/schema';
import { logger } from '../src/log';
import { DEFAULT_RULES_DIR, loadRules } from '../src/rules/load';
import { createUser, findUser, setUserDisabled } from '../src/users';
import { startWebServer, type WebServer } from '../src/web/server';
import { freshPostgres, openTestDatabase, type TestDatabase } from './support/db';
import { openDatabase } from '../src/db/client';
import { HttpClient } from './support/http-client';

const PASSWORD = 'rätt-lösenord-för-test';

describe.each(['postgres', 'pglite'] as const)('sign-in (%s)', (kind) => {
  let tdb: TestDatabase;
  let ctx: AppContext;
  let server: WebServer;
  let dataDir: string;
  const db = () => tdb.database.db;

  beforeAll(async () => {
    dataDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'lci-signin-'));
    tdb = await openTestDatabase(kind);
    ctx = {
      config: parseConfig({ DATA_DIR: dataDir, HTTP_PORT: '0' }),
      rules: loadRules(DEFAULT_RULES_DIR),
      database: tdb.database,
      log: logger('test'),
      now: () => new Date(),
    };
    server = await startWebServer(ctx);
  }, 60_000);

  afterAll(async () => {
    await server?.close();
    await tdb?.cleanup();
    if (dataDir) await fsp.rm(dataDir, { recursive: true, force: true });
  });

  test('50 sign-ins sent at once (the right password among them): none gets in, the account is locked', async () => {
    await createUser(db(), 'burst', PASSWORD);
    const clients = Array.from({ length: 50 }, () => new HttpClient(server.url));
    const tokens = await Promise.all(clients.map((c) => c.token('/login')));
    const results = await Promise.all(
      clients.map((c, i) =>
        c.post('/login', { _csrf: tokens[i]!, username: 'burst', password: i === 25 ? PASSWORD : `fel-lösenord-${i}`, next: '/cases' }),
      ),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 303)).toEqual([]);
    expect(clients.some((c) => c.cookies.has('lci_session'))).toBe(false);
    // The address limit (20) counts attempts still in flight: the rest are refused without a password check.
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(30);
    const u = (await findUser(db(), 'burst'))!;
    expect(u.lockedUntil!.getTime()).toBeGreaterThan(Date.now() + 14 * 60_000);
    const events = await db().select().from(auditEvents).where(eq(auditEvents.actor, 'user:burst'));
    expect(events.map((e) => e.action)).toContain('user.locked');
    expect(events.map((e) => e.action)).not.toContain('user.signed_in');
    // afterwards, from another address's point of view (a fresh server), the right password is still refused: locked
    const other = await startWebServer(ctx);
    try {
      expect((await new HttpClient(other.url).signIn('burst', PASSWORD)).status).toBe(401);
    } finally {
      await other.close();
    }
  });

  test('roles: a handläggare may not hold or release replies nor manage staff; an admin may', async () => {
    await createUser(db(), 'hand.only', PASSWORD, { role: 'handlaggare' });
    await createUser(db(), 'admin.only', PASSWORD);
    const fresh = await startWebServer(ctx);
    try {
      const h = new HttpClient(fresh.url);
      expect((await h.signIn('hand.only', PASSWORD)).status).toBe(303);
      const csrf = await h.token('/cases');
      for (const url of ['/replies/999999/hold', '/replies/999999/release', '/admin/users/1/disable', '/admin/users/1/role']) {
        const res = await h.post(url, { _csrf: csrf, role: 'admin' });
        expect([url, res.status]).toEqual([url, 403]);
        expect(await res.text()).toContain('administratör');
      }
      expect((await h.get('/admin/users')).status).toBe(403);
      expect(await (await h.get('/cases')).text()).not.toContain('href="/admin/users"');
      const a = new HttpClient(fresh.url);
      expect((await a.signIn('admin.only', PASSWORD)).status).toBe(303);
      expect((await a.post('/replies/999999/hold', { _csrf: await a.token('/cases') })).status).toBe(404); // past the role check: no such reply
      expect((await a.get('/admin/users')).status).toBe(200);
    } finally {
      await fresh.close();
    }
    expect((await findUser(db(), 'hand.only'))!.role).toBe('handlaggare');
  });

  test('a failure never clears a lock, and the lock is not shortened', async () => {
    await createUser(db(), 'locked.one', PASSWORD);
    const until = new Date(Date.now() + 10 * 60_000);
    await db().update(users).set({ lockedUntil: until, failedLogins: 0 }).where(eq(users.username, 'locked.one'));
    const fresh = await startWebServer(ctx);
    try {
      const c = new HttpClient(fresh.url);
      for (let i = 0; i < 3; i++) expect((await c.signIn('locked.one', `fel-${i}-lösenord`)).status).toBe(401);
      expect((await c.signIn('locked.one', PASSWORD)).status).toBe(401);
    } finally {
      await fresh.close();
    }
    expect((await findUser(db(), 'locked.one'))!.lockedUntil!.getTime()).toBe(until.getTime());
  });

  test("a new password and `users disable` end the account's sessions", async () => {
    await createUser(db(), 'sessions.one', PASSWORD);
    const fresh = await startWebServer(ctx);
    try {
      const a = new HttpClient(fresh.url);
      expect((await a.signIn('sessions.one', PASSWORD)).status).toBe(303);
      expect((await a.get('/cases')).status).toBe(200);
      await createUser(db(), 'sessions.one', 'ett-helt-nytt-lösenord', { update: true });
      expect((await a.get('/cases')).status).toBe(303);
      expect((await a.signIn('sessions.one', 'ett-helt-nytt-lösenord')).status).toBe(303);
      expect((await a.get('/cases')).status).toBe(200);

      await setUserDisabled(db(), (await findUser(db(), 'sessions.one'))!.id, true, new Date());
      expect((await a.get('/cases')).status).toBe(303);
      expect((await a.signIn('sessions.one', 'ett-helt-nytt-lösenord')).status).toBe(401);
    } finally {
      await fresh.close();
    }
  });
});

describe('the address limit behind a proxy; users disable', () => {
  let tdb: TestDatabase;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'lci-proxy-'));
    tdb = await openTestDatabase('postgres');
    await createUser(tdb.database.db, 'proxied', PASSWORD);
  }, 60_000);
  afterAll(async () => {
    await tdb?.cleanup();
    if (dataDir) await fsp.rm(dataDir, { recursive: true, force: true });
  });

  const ctxFor = (extra: Record<string, string>): AppContext => ({
    config: parseConfig({ DATA_DIR: dataDir, HTTP_PORT: '0', ...extra }),
    rules: loadRules(DEFAULT_RULES_DIR),
    database: tdb.database,
    log: logger('test'),
    now: () => new Date(),
  });

  async function twentyFailures(c: HttpClient, headers: Record<string, string>) {
    for (let i = 0; i < 20; i++) expect((await c.signIn(`ingen-${i}`, 'fel-lösenord-här', headers)).status).toBe(401);
  }

  test('HTTP_TRUST_PROXY=127.0.0.1: X-Forwarded-For is the client; one noisy client does not lock out the others', async () => {
    const server = await startWebServer(ctxFor({ HTTP_TRUST_PROXY: '127.0.0.1' }));
    try {
      const c = new HttpClient(server.url);
      await twentyFailures(c, { 'x-forwarded-for': '198.51.100.7' });
      expect((await c.signIn('proxied', PASSWORD, { 'x-forwarded-for': '198.51.100.7' })).status).toBe(429);
      expect((await new HttpClient(server.url).signIn('proxied', PASSWORD, { 'x-forwarded-for': '198.51.100.8' })).status).toBe(303);
    } finally {
      await server.close();
    }
  });

  test('off by default: X-Forwarded-For is ignored (a client cannot pick its own address)', async () => {
    const server = await startWebServer(ctxFor({}));
    try {
      const c = new HttpClient(server.url);
      await twentyFailures(c, { 'x-forwarded-for': '198.51.100.9' });
      expect((await c.signIn('proxied', PASSWORD, { 'x-forwarded-for': '198.51.100.10' })).status).toBe(429);
    } finally {
      await server.close();
    }
  });

  test('Secure cookies by default unless bound to loopback', async () => {
    expect(parseConfig({}).http.secureCookie).toBe(false);
    expect(parseConfig({ HTTP_HOST: '::1' }).http.secureCookie).toBe(false);
    expect(parseConfig({ HTTP_HOST: '0.0.0.0' }).http.secureCookie).toBe(true);
    expect(parseConfig({ HTTP_HOST: '0.0.0.0', SESSION_SECURE_COOKIE: 'false' }).http.secureCookie).toBe(false);
    expect(parseConfig({ SESSION_SECURE_COOKIE: 'true' }).http.secureCookie).toBe(true);
    // configured for all interfaces (so Secure), but listening on loopback for the test
    const wide = ctxFor({ HTTP_HOST: '0.0.0.0' });
    const server = await startWebServer({ ...wide, config: { ...wide.config, http: { ...wide.config.http, host: '127.0.0.1' } } });
    try {
      const res = await fetch(`${server.url}/login`);
      expect(res.headers.getSetCookie().join('\n')).toMatch(/lci_login=[^;]+;.*Secure/);
    } finally {
      await server.close();
    }
  });
});

test('`users disable NAME` through the CLI command: sessions end, sign-in refused; `users enable` lets it in again', async () => {
  const pg = await freshPostgres();
  const dataDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'lci-disable-'));
  const database = await openDatabase({ url: pg.url });
  const ctx: AppContext = {
    config: parseConfig({ DATA_DIR: dataDir, HTTP_PORT: '0' }),
    rules: loadRules(DEFAULT_RULES_DIR),
    database,
    log: logger('test'),
    now: () => new Date(),
  };
  const server = await startWebServer(ctx);
  try {
    await createUser(database.db, 'karin.it', PASSWORD);
    const c = new HttpClient(server.url);
    expect((await c.signIn('karin.it', PASSWORD)).status).toBe(303);
    const lines: string[] = [];
    const env = { DATABASE_URL: pg.url, DATA_DIR: dataDir };
    await usersDisableCommand('Karin.IT', true, { env, write: (l) => lines.push(l) });
    await usersDisableCommand('karin.it', true, { env, write: (l) => lines.push(l) });
    expect((await c.get('/cases')).status).toBe(303);
    expect((await c.signIn('karin.it', PASSWORD)).status).toBe(401);
    await usersDisableCommand('karin.it', false, { env, write: (l) => lines.push(l) });
    expect((await c.signIn('karin.it', PASSWORD)).status).toBe(303);
    expect(lines).toEqual(['disabled: user karin.it', 'already disabled: user karin.it', 'enabled: user karin.it']);
    await expect(usersDisableCommand('ingen.alls', true, { env, write: () => {} })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const events = await database.db.select().from(auditEvents).where(eq(auditEvents.actor, 'cli'));
    expect(events.map((e) => e.action)).toEqual(['user.disabled', 'user.enabled']);
  } finally {
    await server.close();
    await database.close();
    await pg.drop();
    await fsp.rm(dataDir, { recursive: true, force: true });
  }
});
