/**
 * Close the loop in a real browser (Debian's Chromium via playwright-core) over PGlite: a reply the
 * per-case rate limit held back shows its reason in Swedish and goes out with "Skicka ändå"
 * (audited); a case whose provider did not answer the reminders is flagged "Utföraren svarar inte"
 * in the list and on its page; a rejected case is reopened. Screenshots go to test-output/screenshots/.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { and, asc, eq } from 'drizzle-orm';
import type { Browser, Page } from 'playwright-core';
import { runReminders } from '../src/cases/reminders';
import { parseConfig } from '../src/config';
import type { AppContext } from '../src/context';
import { auditEvents, cases, outbox } from '../src/db/schema';
import { ingestRaw } from '../src/intake/process';
import { logger } from '../src/log';
import { DEFAULT_RULES_DIR, loadRules } from '../src/rules/load';
import { createUser } from '../src/users';
import { startWebServer, type WebServer } from '../src/web/server';
import { launchBrowser } from './support/browser';
import { openTestDatabase, type TestDatabase } from './support/db';
import { buildMail, msgId, personBlock } from './support/mails';

const SHOTS = path.resolve(__dirname, '../test-output/screenshots');
const USER = 'eva.it';
const PASSWORD = 'korrekt-häst-batteri-häftstift';
const pass = `Authentication-Results: mx.orebro.se; spf=pass smtp.mailfrom=attendo.se; dkim=pass header.d=attendo.se; dmarc=pass action=none header.from=attendo.se`;

let tdb: TestDatabase;
let ctx: AppContext;
let server: WebServer;
let browser: Browser;
let dataDir: string;
let clock = new Date('2026-12-07T09:00:00+01:00');
const ids = { limited: 0, silent: 0, silentRef: '', limitedReply: 0 };

async function mail(subject: string, body: string, extra: { inReplyTo?: string } = {}) {
  return ingestRaw(
    ctx,
    Buffer.from(buildMail({ from: 'lena.ek@attendo.se', subject, messageId: msgId('b', 'attendo.se'), body, headers: [pass], ...extra })),
    { kind: 'ingest' },
  );
}

beforeAll(async () => {
  fs.mkdirSync(SHOTS, { recursive: true });
  dataDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'lci-loopweb-'));
  tdb = await openTestDatabase('pglite');
  ctx = {
    config: parseConfig({
      DATA_DIR: dataDir,
      HTTP_PORT: '0',
      MAIL_TRUSTED_AUTHSERV_ID: 'mx.orebro.se',
      REPLY_MAX_PER_CASE_PER_DAY: '1',
      REMINDER_AFTER_DAYS: '1',
      REMINDER_MAX: '0',
    }),
    rules: loadRules(DEFAULT_RULES_DIR),
    database: tdb.database,
    log: logger('test').child({}, { level: 'silent' }),
    now: () => clock,
  };
  const db = tdb.database.db;
  // A waiting case whose second automatic answer is held back by the per-case limit.
  const first = await mail('SITHS-kort Nora', `Hej!\n\n${personBlock({ name: 'Nora Lind', function: 'Enhetschef', user: 'nolin' })}\n`);
  ids.limited = first.caseId!;
  const [ask] = await db.select().from(outbox).where(eq(outbox.caseId, ids.limited));
  await db.update(outbox).set({ status: 'sent', sentAt: clock }).where(eq(outbox.id, ask!.id));
  await mail(`SV: ${ask!.subject}`, 'Hej!\n\nVi återkommer med HSA-id.\n\nMvh Lena', { inReplyTo: ask!.messageId });
  const rows = await db.select().from(outbox).where(eq(outbox.caseId, ids.limited)).orderBy(asc(outbox.id));
  expect(rows.at(-1)).toMatchObject({ status: 'suppressed', suppressReason: 'rate-limit-case' });
  ids.limitedReply = rows.at(-1)!.id;

  // A case whose provider never answers: REMINDER_MAX=0, flagged after one working day.
  const silent = await mail(
    'SITHS-kort Olof',
    `Hej!\n\n${personBlock({ name: 'Olof Berg', function: 'Undersköterska', user: 'olber' })}\n`,
  );
  ids.silent = silent.caseId!;
  await db.update(outbox).set({ status: 'sent', sentAt: clock }).where(eq(outbox.caseId, ids.silent));
  ids.silentRef = (await db.select().from(cases).where(eq(cases.id, ids.silent)))[0]!.ref;
  clock = new Date('2026-12-08T09:30:00+01:00');
  expect((await runReminders(ctx)).flagged).toBe(2);

  await createUser(db, USER, PASSWORD, { displayName: 'Eva IT' });
  server = await startWebServer(ctx);
  browser = await launchBrowser();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await tdb?.cleanup();
  if (dataDir) await fsp.rm(dataDir, { recursive: true, force: true });
});

async function signIn(): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1366, height: 768 }, locale: 'sv-SE' });
  const page = await context.newPage();
  await page.goto(`${server.url}/login`);
  await page.getByLabel('Användarnamn').fill(USER);
  await page.getByLabel('Lösenord').fill(PASSWORD);
  await page.getByRole('button', { name: 'Logga in' }).click();
  await page.waitForURL(`${server.url}/cases`);
  return page;
}

test('a reply held back by the rate limit shows why in Swedish and goes out with "Skicka ändå" (audited)', async () => {
  const page = await signIn();
  await page.goto(`${server.url}/cases/${ids.limited}`);
  const row = page.locator(`#reply-${ids.limitedReply}`);
  await expect(row.textContent()).resolves.toContain('Orsak: ärendet har fått så många automatiska svar som tillåts per dygn (1)');
  expect(await page.content()).not.toContain('rate-limit-case');
  await page.screenshot({ path: path.join(SHOTS, 'loop-skicka-andå.png'), fullPage: true });
  await row.getByRole('button', { name: 'Skicka ändå' }).click();
  await page.waitForURL(/ok=sent-anyway/);
  expect(await page.getByText('Svaret skickas nu.').count()).toBe(1);
  const db = tdb.database.db;
  const [r] = await db.select().from(outbox).where(eq(outbox.id, ids.limitedReply));
  expect(r!.status).toBe('pending');
  const events = await db
    .select()
    .from(auditEvents)
    .where(and(eq(auditEvents.caseId, ids.limited), eq(auditEvents.action, 'reply.sent_anyway')));
  expect(events).toHaveLength(1);
  expect(events[0]!.actor).toBe(`user:${USER}`);
  expect(await page.locator(`#reply-${ids.limitedReply}`).getByRole('button', { name: 'Skicka ändå' }).count()).toBe(0);
  await page.context().close();
});

test('a provider who does not answer the reminders is flagged in the case list and on the case page', async () => {
  const page = await signIn();
  const row = page.locator('tr', { has: page.getByRole('link', { name: ids.silentRef }) });
  expect(await row.getByText('Utföraren svarar inte').count()).toBe(1);
  await page.screenshot({ path: path.join(SHOTS, 'loop-utforaren-svarar-inte-lista.png'), fullPage: true });
  await row.getByRole('link', { name: ids.silentRef }).click();
  await page.waitForURL(`${server.url}/cases/${ids.silent}`);
  const flag = page.locator('#provider-silent');
  await expect(flag.textContent()).resolves.toContain('Utföraren svarar inte.');
  await expect(flag.textContent()).resolves.toContain('0 påminnelser utan svar');
  await page.screenshot({ path: path.join(SHOTS, 'loop-utforaren-svarar-inte.png'), fullPage: true });

  // Reject, then reopen: the provider gets the reason; reopening is audited.
  await page.getByText('Avvisa ärendet').first().click();
  await page.locator('#reject-reason').fill('Fel utförare.');
  await page.locator('#reject button[type=submit]').click();
  await page.waitForURL(/ok=rejected/);
  await page.getByRole('button', { name: 'Öppna ärendet igen' }).click();
  await page.waitForURL(/ok=reopened/);
  const [c] = await tdb.database.db.select().from(cases).where(eq(cases.id, ids.silent));
  expect(c!.status).toBe('waiting');
  const kinds = (await tdb.database.db.select().from(outbox).where(eq(outbox.caseId, ids.silent))).map((r) => r.kind);
  expect(kinds).toContain('rejection');
  await page.context().close();
});
