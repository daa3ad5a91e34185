/**
 * Staff sign-in with OpenID Connect in Chromium against a local oidc-provider (Entra ID's
 * stand-in) and its login form: authorization code + PKCE, roles from the `roles` claim or mapped
 * groups, staff appear on first sign-in, an admin changes roles and disables accounts (audited).
 */
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import type { Browser, Page } from 'playwright-core';
import { parseConfig } from '../src/config';
import type { AppContext } from '../src/context';
import { auditEvents, users } from '../src/db/schema';
import { logger } from '../src/log';
import { DEFAULT_RULES_DIR, loadRules } from '../src/rules/load';
import { findUser } from '../src/users';
import { startWebServer, type WebServer } from '../src/web/server';
import { launchBrowser } from './support/browser';
import { openTestDatabase, type TestDatabase } from './support/db';
import { startOidcProvider, type OidcProvider } from './support/oidc';
import { freePort } from './support/ports';

const WEB = { clientId: 'review-ui', clientSecret: 'review-ui-secret-1' };
let provider: OidcProvider;
let tdb: TestDatabase;
let server: WebServer;
let browser: Browser;
let dataDir: string;

beforeAll(async () => {
  const port = await freePort();
  const redirectUri = `http://127.0.0.1:${port}/auth/callback`;
  provider = await startOidcProvider({
    web: { ...WEB, redirectUri },
    accounts: {
      anna: { name: 'Anna Admin', username: 'anna@orebro.se', roles: ['admin'] },
      hasse: { name: 'Hasse Handläggare', username: 'hasse@orebro.se', groups: ['grp-handlaggare'] },
      utan: { name: 'Utan Roll', username: 'utan@orebro.se' },
    },
  });
  dataDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'lci-oidc-'));
  tdb = await openTestDatabase('pglite');
  const ctx: AppContext = {
    config: parseConfig({
      DATA_DIR: dataDir,
      HTTP_PORT: String(port),
      OIDC_ISSUER: provider.issuer,
      OIDC_CLIENT_ID: WEB.clientId,
      OIDC_CLIENT_SECRET: WEB.clientSecret,
      OIDC_REDIRECT_URL: redirectUri,
      OIDC_HANDLAGGARE_GROUPS: 'grp-handlaggare',
    }),
    rules: loadRules(DEFAULT_RULES_DIR),
    database: tdb.database,
    log: logger('test'),
    now: () => new Date(),
  };
  server = await startWebServer(ctx);
  browser = await launchBrowser();
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await provider?.stop();
  await tdb?.cleanup();
  if (dataDir) await fsp.rm(dataDir, { recursive: true, force: true });
});

/** Signs in through the provider's own login form; resolves on the page the UI lands on. */
async function signInWithProvider(login: string): Promise<Page> {
  const context = await browser.newContext({ locale: 'sv-SE' });
  const page = await context.newPage();
  await page.goto(`${server.url}/login`);
  await page.click('#oidc-sign-in');
  await page.waitForURL((u) => u.href.startsWith(provider.issuer));
  await page.fill('input[name="login"]', login);
  await page.fill('input[name="password"]', 'vilket-som-helst');
  await page.click('button[type="submit"]');
  await page.waitForURL((u) => u.href.startsWith(server.url) && !u.pathname.startsWith('/auth/'));
  return page;
}

test('an admin signs in with the provider, appears on first sign-in, and sees the staff page', async () => {
  const page = await signInWithProvider('anna');
  expect(new URL(page.url()).pathname).toBe('/cases');
  await expect(page.locator('.signout strong').textContent()).resolves.toBe('Anna Admin');
  await page.click('nav >> text=Personal');
  expect(new URL(page.url()).pathname).toBe('/admin/users');
  await expect(page.locator('tr[data-user="anna@orebro.se"]').textContent()).resolves.toContain('Administratör (du)');
  const anna = (await findUser(tdb.database.db, 'anna@orebro.se'))!;
  expect(anna).toMatchObject({ role: 'admin', passwordHash: null, displayName: 'Anna Admin' });
  expect(anna.oidcSubject).toBe(`${provider.issuer} anna`);
  await page.context().close();
});

test('a handläggare (mapped group) works cases but not staff; the admin changes the role and disables the account', async () => {
  const hasse = await signInWithProvider('hasse');
  expect(new URL(hasse.url()).pathname).toBe('/cases');
  expect(await hasse.locator('nav >> text=Personal').count()).toBe(0);
  const forbidden = await hasse.goto(`${server.url}/admin/users`);
  expect(forbidden!.status()).toBe(403);
  expect((await findUser(tdb.database.db, 'hasse@orebro.se'))!.role).toBe('handlaggare');

  const admin = await signInWithProvider('anna');
  await admin.goto(`${server.url}/admin/users`);
  const row = admin.locator('tr[data-user="hasse@orebro.se"]');
  await row.locator('select[name="role"]').selectOption('admin');
  await row.locator('button:has-text("Ändra roll")').click();
  await admin.waitForURL(/ok=role/);
  await expect(admin.locator('.notice').textContent()).resolves.toContain('Rollen är ändrad');
  expect((await findUser(tdb.database.db, 'hasse@orebro.se'))!.role).toBe('admin');

  await admin.locator('tr[data-user="hasse@orebro.se"] button:has-text("Stäng av")').click();
  await admin.waitForURL(/ok=disabled/);
  await expect(admin.locator('tr[data-user="hasse@orebro.se"]').textContent()).resolves.toContain('Avstängt');
  // hasse's session ended at once; signing in again is refused
  await hasse.goto(`${server.url}/cases`);
  expect(new URL(hasse.url()).pathname).toBe('/login');
  const again = await signInWithProvider('hasse');
  expect(new URL(again.url()).pathname).toBe('/login');
  await expect(again.locator('.error-notice').textContent()).resolves.toContain('avstängt');

  const hasseId = (await findUser(tdb.database.db, 'hasse@orebro.se'))!.id;
  const events = await tdb.database.db.select().from(auditEvents).where(eq(auditEvents.actor, 'user:anna@orebro.se'));
  expect(events.map((e) => [e.action, (e.after as { userId?: number } | null)?.userId])).toEqual(
    expect.arrayContaining([
      ['user.role_changed', hasseId],
      ['user.disabled', hasseId],
    ]),
  );
  await Promise.all([hasse.context().close(), admin.context().close(), again.context().close()]);
});

test('a token without a role is refused and no account is made', async () => {
  const page = await signInWithProvider('utan');
  expect(new URL(page.url()).pathname).toBe('/login');
  await expect(page.locator('.error-notice').textContent()).resolves.toContain('ingen roll');
  expect(await tdb.database.db.select().from(users).where(eq(users.username, 'utan@orebro.se'))).toEqual([]);
  await page.context().close();
});
