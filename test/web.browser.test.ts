/**
 * The review UI in a real browser (Debian's Chromium via playwright-core) over a PGlite database
 * filled by ingesting real .eml bytes: sign in, correct an HSA-id, work the task to done, export
 * CSV; and a mail full of markup renders inert. Screenshots go to test-output/screenshots/.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { and, eq } from 'drizzle-orm';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { parseConfig } from '../src/config';
import type { AppContext } from '../src/context';
import { auditEvents, cases, messages, outbox, persons, tasks } from '../src/db/schema';
import { ingestRaw } from '../src/intake/process';
import { logger } from '../src/log';
import { DEFAULT_RULES_DIR, loadRules } from '../src/rules/load';
import { createUser } from '../src/users';
import { startWebServer, type WebServer } from '../src/web/server';
import { launchBrowser } from './support/browser';
import { openTestDatabase, type TestDatabase } from './support/db';

const SHOTS = path.resolve(__dirname, '../test-output/screenshots');
const USER = 'anna.it';
const PASSWORD = 'rätt-häst-batteri-häftstift';

const crlf = (s: string) => Buffer.from(s.replace(/\r?\n/g, '\r\n'), 'latin1');
const utf8 = (s: string) => Buffer.from(s.replace(/\r?\n/g, '\r\n'), 'utf8');

/** A provider's notification as Outlook sends it: ISO-8859-1, quoted-printable; the HSA-id has a wrong check digit. */
const NOTIFICATION = crlf(`Return-Path: <anna.ek@omsorgshuset.se>
From: Anna Ek <anna.ek@omsorgshuset.se>
To: "Vard och stod" <vardochstod@orebro.se>
Subject: =?iso-8859-1?Q?Beh=F6righet_Lifecare_SP?=
Date: Tue, 24 Nov 2026 09:12:00 +0100
Message-ID: <AM0PR07MB4321.web1@omsorgshuset.se>
MIME-Version: 1.0
Content-Type: text/plain; charset="iso-8859-1"
Content-Transfer-Encoding: quoted-printable

Hej!

Vi har en ny enhetschef som har f=E5tt sitt SITHS-kort.

Namn p=E5 beh=F6rig: Lisa Berg
Funktion: Enhetschef
HSA-id: SE2321000017-4HK5
Anv=E4ndarnamn i Treserva/TES: lisber

Med v=E4nliga h=E4lsningar
Anna Ek
Omsorgshuset i =D6rebro AB
Tel: 019-123 45 67
`);

/** A complete notification whose text part and HTML part carry script, an onerror image and a javascript: link. */
const HOSTILE = utf8(`From: "Bo <b>Ek</b>" <bo@hemtjanstnarke.se>
To: vardochstod@orebro.se
Subject: Behorighet <script>window.__xss='subject'</script>
Date: Tue, 24 Nov 2026 10:00:00 +0100
Message-ID: <hostile1@hemtjanstnarke.se>
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="b1"

--b1
Content-Type: text/plain; charset=utf-8

Namn på behörig: Karin Holm
Funktion: Sjuksköterska
HSA-id: SE2321000016-7XY
Användarnamn i Treserva/TES: karhol
<script>window.__xss = 'text'; alert('xss')</script>
<img src="http://127.0.0.1:9/track.png" onerror="window.__xss = 'img'">
<a href="javascript:window.__xss='link'">Klicka här</a>

--b1
Content-Type: text/html; charset=utf-8

<html><body><p>Namn på behörig: Karin Holm<br>Funktion: Sjuksköterska<br>HSA-id: SE2321000016-7XY<br>Användarnamn i Treserva/TES: karhol</p>
<script>window.__xss = 'html'</script><img src="http://127.0.0.1:9/track.png" onerror="window.__xss='img'"><a href="javascript:window.__xss='link'">Klicka</a>
</body></html>
--b1--
`);

/** HTML-only mail with no data: goes to the review queue. */
const HOSTILE_HTML_ONLY = utf8(`From: Per Svensson <per@example.com>
To: vardochstod@orebro.se
Subject: =?utf-8?Q?Fr=C3=A5ga_om_faktura?=
Date: Tue, 24 Nov 2026 11:00:00 +0100
Message-ID: <q1@example.com>
MIME-Version: 1.0
Content-Type: text/html; charset=utf-8

<p>Hej, har ni f&aring;tt <b>fakturan</b>?</p><script>window.__xss='review'</script>
<img src="http://127.0.0.1:9/pixel.gif" onerror="window.__xss='img'"><a href="javascript:window.__xss='link'">&lt;script&gt;alert(1)&lt;/script&gt; l&auml;nk</a>
<iframe src="http://127.0.0.1:9/frame"></iframe><style>body{background:url(http://127.0.0.1:9/bg)}</style>
`);

let tdb: TestDatabase;
let ctx: AppContext;
let server: WebServer;
let browser: Browser;
let context: BrowserContext;
let dataDir: string;
const ids = { caseA: 0, caseB: 0, refA: '', refB: '', caseV: 0, refV: '' };

/** A complete notification our receiving server verified (dmarc=pass): no unverified mark anywhere. */
const VERIFIED =
  utf8(`Authentication-Results: mx.orebro.se; spf=pass smtp.mailfrom=vardaga.se; dkim=pass header.d=vardaga.se; dmarc=pass header.from=vardaga.se
From: Olle Berg <olle@vardaga.se>
To: vardochstod@orebro.se
Subject: Ny behörighet verifierad
Date: Tue, 24 Nov 2026 12:00:00 +0100
Message-ID: <verified1@vardaga.se>
Content-Type: text/plain; charset=utf-8

Namn på behörig: Vera Verifierad
Funktion: Sjuksköterska
HSA-id: SE2321000016-VER1
Användarnamn i Treserva/TES: verver
`);

beforeAll(async () => {
  fs.mkdirSync(SHOTS, { recursive: true });
  dataDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'lci-web-'));
  tdb = await openTestDatabase('pglite');
  ctx = {
    config: parseConfig({ DATA_DIR: dataDir, HTTP_PORT: '0', REPLY_PERSONAL_DATA: 'all', MAIL_TRUSTED_AUTHSERV_ID: 'mx.orebro.se' }),
    rules: loadRules(DEFAULT_RULES_DIR),
    database: tdb.database,
    log: logger('test'),
    now: () => new Date(),
  };
  const a = await ingestRaw(ctx, NOTIFICATION, { kind: 'ingest' });
  const b = await ingestRaw(ctx, HOSTILE, { kind: 'ingest' });
  const c = await ingestRaw(ctx, HOSTILE_HTML_ONLY, { kind: 'ingest' });
  const v = await ingestRaw(ctx, VERIFIED, { kind: 'ingest' });
  expect([a.status, b.status, c.status, v.status]).toEqual(['processed', 'processed', 'review', 'processed']);
  ids.caseV = v.caseId!;
  ids.caseA = a.caseId!;
  ids.caseB = b.caseId!;
  const db = tdb.database.db;
  ids.refA = (await db.select().from(cases).where(eq(cases.id, ids.caseA)))[0]!.ref;
  ids.refB = (await db.select().from(cases).where(eq(cases.id, ids.caseB)))[0]!.ref;
  ids.refV = (await db.select().from(cases).where(eq(cases.id, ids.caseV)))[0]!.ref;
  await createUser(db, USER, PASSWORD, { displayName: 'Anna IT' });
  server = await startWebServer(ctx);
  browser = await launchBrowser();
}, 120_000);

/** Each test starts signed out, in its own browser context (cookies, storage). */
beforeEach(async () => {
  context = await browser.newContext({ viewport: { width: 1366, height: 768 }, locale: 'sv-SE', acceptDownloads: true });
});

afterEach(async () => {
  await context?.close();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await tdb?.cleanup();
  if (dataDir) await fsp.rm(dataDir, { recursive: true, force: true });
});

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

/** Watches a page for anything a hostile mail could make happen: dialogs, page errors, CSP violations, foreign requests. */
function watch(page: Page) {
  const seen = { dialogs: [] as string[], errors: [] as string[], foreign: [] as string[] };
  page.on('dialog', (d) => {
    seen.dialogs.push(d.message());
    void d.dismiss();
  });
  page.on('pageerror', (e) => seen.errors.push(e.message));
  page.on('request', (r) => {
    if (!r.url().startsWith(server.url + '/')) seen.foreign.push(r.url());
  });
  return seen;
}

test('sign in, correct an HSA-id, the problem vanishes and the task appears; take it, finish it, export CSV', async () => {
  const page = await context.newPage();
  const seen = watch(page);
  const db = tdb.database.db;

  // Without a session every page leads to the sign-in form.
  await page.goto(`${server.url}/cases`);
  expect(new URL(page.url()).pathname).toBe('/login');
  await shot(page, 'login');
  await page.getByLabel('Användarnamn').fill(USER);
  await page.getByLabel('Lösenord').fill(PASSWORD);
  await page.getByRole('button', { name: 'Logga in' }).click();
  await page.waitForURL(`${server.url}/cases`);
  expect(await page.locator('h1').textContent()).toBe('Ärenden');
  const cookie = (await context.cookies()).find((c) => c.name === 'lci_session')!;
  expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });

  // The list shows the case made from the mail, with its provider and person.
  const row = page.locator('table.list tbody tr', { hasText: ids.refA });
  await expect(row.textContent()).resolves.toContain('Omsorgshuset i Örebro AB');
  await expect(row.textContent()).resolves.toContain('Lisa Berg');
  await expect(row.textContent()).resolves.toContain('Väntar på utförare');
  await shot(page, 'cases');

  // Filter and search.
  await page.getByRole('link', { name: /^Väntar på utförare/ }).click();
  expect(await page.locator('table.list tbody tr').count()).toBe(1);
  await page.getByLabel('Sök på namn, HSA-id, utförare eller ärendenummer').fill('karin');
  await page.getByRole('button', { name: 'Sök' }).click();
  expect(await page.locator('#list-summary').textContent()).toContain('Inga ärenden');
  await page.goto(`${server.url}/cases?q=${encodeURIComponent('SE2321000016-7x')}`);
  expect(await page.locator('table.list tbody tr').count()).toBe(1);
  expect(await page.locator('table.list tbody').textContent()).toContain(ids.refB);

  // The case page: the mail's text beside what was parsed from it, the problem on the HSA-id field.
  await page.goto(`${server.url}/cases`);
  await page.getByRole('link', { name: ids.refA }).click();
  await page.waitForURL(`${server.url}/cases/${ids.caseA}`);
  const [person] = await db.select().from(persons).where(eq(persons.caseId, ids.caseA));
  const checksum = ctx.rules.fields.hsaId.messages.checksum;
  const card = page.locator(`#person-${person!.id}`);
  expect(await card.locator('.problem').allTextContents()).toEqual([checksum]);
  expect(await page.locator('pre.mailbody').first().textContent()).toContain('Namn på behörig: Lisa Berg');
  expect(await page.locator('.message .parsed').first().textContent()).toContain('SE2321000017-4HK5');
  const hsaInput = card.getByLabel('HSA-id');
  expect(await hsaInput.inputValue()).toBe('SE2321000017-4HK5');
  expect(await hsaInput.getAttribute('aria-invalid')).toBe('true');
  await shot(page, 'case');

  // Correct it: re-validated, the problem is gone and a task is created.
  await hsaInput.fill('se2321000016-4hk5');
  await card.getByRole('button', { name: 'Spara och kontrollera' }).click();
  await page.waitForURL(/\/cases\/\d+\?at=person-\d+&ok=task-created/);
  expect(await card.locator('.notice').textContent()).toContain('ett uppdrag är skapat');
  const after = page.locator(`#person-${person!.id}`);
  expect(await after.locator('.problem').count()).toBe(0);
  expect(await after.textContent()).not.toContain(checksum);
  expect(await after.textContent()).toContain('Uppdrag skapat');
  // The task is not done yet: the person can still be corrected (the task follows), so the value is in the form.
  expect(await after.getByLabel('HSA-id').inputValue()).toBe('SE2321000016-4HK5');
  const [task] = await db.select().from(tasks).where(eq(tasks.personId, person!.id));
  expect(task).toMatchObject({ status: 'open', hsaId: 'SE2321000016-4HK5', treservaUser: 'lisber', name: 'Lisa Berg' });
  expect(await after.getByRole('link', { name: `nr ${task!.id}` }).getAttribute('href')).toBe(`/tasks#task-${task!.id}`);
  // The correction is an audit event with who, before and after, shown on the case.
  const [ev] = await db
    .select()
    .from(auditEvents)
    .where(and(eq(auditEvents.caseId, ids.caseA), eq(auditEvents.action, 'person.corrected')));
  expect(ev).toMatchObject({ actor: `user:${USER}`, personId: person!.id });
  expect(ev!.before).toMatchObject({ hsaId: 'SE2321000017-4HK5', status: 'incomplete' });
  expect(ev!.after).toMatchObject({ hsaId: 'SE2321000016-4HK5', status: 'complete' });
  const timeline = await page.locator('.timeline').textContent();
  expect(timeline).toContain('Person rättad');
  expect(timeline).toMatch(/HSA-id:\s*SE2321000017-4HK5\s*→\s*SE2321000016-4HK5/);
  expect(timeline).toContain(`av ${USER}`);
  await shot(page, 'case-corrected');

  // The board: take the task, then finish it with a note.
  await after.getByRole('link', { name: `nr ${task!.id}` }).click();
  await page.waitForURL(`${server.url}/tasks#task-${task!.id}`);
  const open = page.locator('section', { has: page.locator('#col-open') });
  const taskCard = open.locator(`#task-${task!.id}`);
  expect(await taskCard.textContent()).toContain('SE2321000016-4HK5');
  // copy.js ran (script-src 'self') and shows the copy buttons
  await expect(taskCard.getByRole('button', { name: 'Kopiera HSA-id för Lisa Berg' }).isVisible()).resolves.toBe(true);
  expect(await taskCard.getByRole('button', { name: 'Kopiera HSA-id för Lisa Berg' }).getAttribute('data-copy')).toBe('SE2321000016-4HK5');
  await taskCard.getByRole('button', { name: 'Ta uppdraget' }).click();
  await page.waitForURL(/ok=taken/);
  const inProgress = page.locator('section', { has: page.locator('#col-progress') }).locator(`#task-${task!.id}`);
  expect(await inProgress.textContent()).toContain(USER);
  await shot(page, 'tasks-in-progress');
  await inProgress.getByLabel(/Meddelande till utföraren/).fill('Behörigheten gäller från i morgon.');
  // The mail was not signed: the sender is not verified, so finishing needs the confirmation.
  await inProgress.getByLabel('kontrollerat med utföraren').check();
  await inProgress.getByRole('button', { name: 'Markera som klar' }).click();
  await page.waitForURL(/ok=done-mail/);
  const done = page.locator('section', { has: page.locator('#col-done') }).locator(`#task-${task!.id}`);
  expect(await done.textContent()).toContain('Behörigheten gäller från i morgon.');
  await shot(page, 'tasks');

  const [doneTask] = await db.select().from(tasks).where(eq(tasks.id, task!.id));
  expect(doneTask).toMatchObject({ status: 'done', assignee: USER, note: 'Behörigheten gäller från i morgon.' });
  const confirmations = await db
    .select()
    .from(outbox)
    .where(and(eq(outbox.kind, 'done_confirmation'), eq(outbox.triggerKey, `task:${task!.id}`)));
  expect(confirmations).toHaveLength(1);
  expect(confirmations[0]).toMatchObject({
    status: 'pending',
    toAddr: 'anna.ek@omsorgshuset.se',
    inReplyTo: '<AM0PR07MB4321.web1@omsorgshuset.se>',
  });
  expect(confirmations[0]!.subject).toContain(ids.refA);
  expect(confirmations[0]!.bodyText).toContain('Behörigheten gäller från i morgon.');
  expect((await db.select().from(cases).where(eq(cases.id, ids.caseA)))[0]!.status).toBe('done');

  // CSV export through the link.
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: /Exportera alla uppdrag/ }).click()]);
  const csv = await fsp.readFile((await download.path())!, 'utf8');
  const lines = csv
    .replace(/^\ufeff/, '')
    .trim()
    .split('\r\n');
  // Issue 8 added the last three columns (action, sender verified, done by).
  expect(lines[0]).toBe(
    'Uppdrag;Ärende;Status;Namn;Funktion;HSA-id;Användarnamn i Treserva/TES;Utförare;Avsändare;Tilldelad;Skapad;Tagen;Klar;Anteckning;Åtgärd;Avsändare verifierad;Gjord av',
  );
  const line = lines.find((l) => l.startsWith(`${task!.id};`))!;
  expect(line).toContain(
    `${ids.refA};Klart;Lisa Berg;Enhetschef;SE2321000016-4HK5;lisber;Omsorgshuset i Örebro AB;anna.ek@omsorgshuset.se;${USER};`,
  );
  expect(line).toMatch(new RegExp(`;Lägg upp behörighet;nej;${USER}$`));
  expect(lines).toHaveLength(4); // header + Lisa Berg + Karin Holm (the complete hostile mail) + Vera Verifierad
  expect(download.suggestedFilename()).toMatch(/^uppdrag-alla-\d{4}-\d{2}-\d{2}\.csv$/);

  // The case page again: done, and the reply is listed with its time.
  await page.goto(`${server.url}/cases/${ids.caseA}`);
  expect(await page.locator('h1 .status').textContent()).toBe('Klar');
  expect(await page.locator('.replies').textContent()).toContain('Besked om klar behörighet');
  expect(seen).toEqual({ dialogs: [], errors: [], foreign: [] });
  await page.close();
});

interface ActiveContent {
  xss: unknown;
  csp: string[];
  scripts: Array<string | null>;
  inlineScripts: number;
  images: number;
  frames: number;
  jsLinks: number;
  handlers: string[];
  styles: number;
}

/** Everything in the DOM that could run or load something (a string: the project compiles without the DOM types). */
const ACTIVE_CONTENT = `(() => {
  const all = Array.from(document.querySelectorAll('*'));
  return {
    xss: window.__xss ?? null,
    csp: window.__csp ?? [],
    scripts: Array.from(document.scripts).map((s) => s.getAttribute('src')),
    inlineScripts: Array.from(document.scripts).filter((s) => !s.src || s.textContent.trim() !== '').length,
    images: document.images.length,
    frames: document.querySelectorAll('iframe, frame, object, embed').length,
    jsLinks: Array.from(document.querySelectorAll('[href], [src], [action], [formaction]')).filter((e) =>
      ['href', 'src', 'action', 'formaction'].some((a) => /^\\s*javascript:/i.test(e.getAttribute(a) ?? '')),
    ).length,
    handlers: all.flatMap((e) => Array.from(e.attributes).filter((a) => /^on/i.test(a.name)).map((a) => e.tagName + '.' + a.name)),
    styles: document.querySelectorAll('style, [style]').length,
  };
})()`;

const RECORD_CSP_VIOLATIONS = `document.addEventListener('securitypolicyviolation', (e) => {
  (window.__csp ??= []).push(e.violatedDirective + ' ' + e.blockedURI);
});`;

async function activeContent(page: Page): Promise<ActiveContent> {
  return (await page.evaluate(ACTIVE_CONTENT)) as ActiveContent;
}

const xssFlag = (page: Page) => page.evaluate('window.__xss ?? null');

async function signIn(page: Page): Promise<void> {
  await page.goto(`${server.url}/login`);
  await page.getByLabel('Användarnamn').fill(USER);
  await page.getByLabel('Lösenord').fill(PASSWORD);
  await page.getByRole('button', { name: 'Logga in' }).click();
  await page.waitForURL(`${server.url}/cases`);
}

test('a mail carrying <script>, <img onerror> and a javascript: link renders inert', async () => {
  const page = await context.newPage();
  const seen = watch(page);
  await page.addInitScript(RECORD_CSP_VIOLATIONS);
  await signIn(page);

  // The list shows the hostile subject as text.
  const listRow = page.locator('table.list tbody tr', { hasText: ids.refB });
  expect(await listRow.locator('.subject').textContent()).toBe("Behorighet <script>window.__xss='subject'</script>");

  await page.goto(`${server.url}/cases/${ids.caseB}`);
  await page.waitForLoadState('load');
  const body = await page.locator('#message-' + (await firstMessageId(ids.caseB)) + ' pre.mailbody').textContent();
  expect(body).toContain("<script>window.__xss = 'text'; alert('xss')</script>");
  expect(body).toContain(`<img src="http://127.0.0.1:9/track.png" onerror="window.__xss = 'img'">`);
  expect(body).toContain(`<a href="javascript:window.__xss='link'">Klicka här</a>`);
  expect(await page.locator('h3', { hasText: 'Meddelande 1' }).textContent()).toContain("<script>window.__xss='subject'</script>");
  expect(await activeContent(page)).toEqual({
    xss: null,
    csp: [],
    scripts: ['/static/copy.js'],
    inlineScripts: 0,
    images: 0,
    frames: 0,
    jsLinks: 0,
    handlers: [],
    styles: 0,
  });
  await shot(page, 'case-hostile-mail');

  // The review queue shows the HTML-only mail as text, with nothing loaded or run.
  await page.goto(`${server.url}/review`);
  await page.waitForLoadState('load');
  const review = page.locator('article.message', { hasText: 'Fråga om faktura' });
  const text = await review.locator('pre.mailbody').textContent();
  expect(text).toContain('fakturan');
  expect(await activeContent(page)).toMatchObject({
    xss: null,
    csp: [],
    scripts: ['/static/copy.js'],
    inlineScripts: 0,
    images: 0,
    frames: 0,
    jsLinks: 0,
    handlers: [],
    styles: 0,
  });
  await shot(page, 'review');

  // Clicking the text where the link was does nothing either.
  await review.locator('pre.mailbody').click();
  expect(await xssFlag(page)).toBeNull();
  expect(seen).toEqual({ dialogs: [], errors: [], foreign: [] });
  await page.close();
});

async function firstMessageId(caseId: number): Promise<number> {
  const [m] = await tdb.database.db.select({ id: messages.id }).from(messages).where(eq(messages.caseId, caseId));
  return m!.id;
}

test('the unverified mark ("Avsändaren är inte verifierad") shows on the case page, the case list and the task card; not for a verified sender', async () => {
  const page = await context.newPage();
  await signIn(page);
  const MARK = 'Avsändaren är inte verifierad';
  const unverifiedRow = page.locator('table.list tbody tr', { hasText: ids.refB });
  const verifiedRow = page.locator('table.list tbody tr', { hasText: ids.refV });
  await expect(unverifiedRow.locator('.unverified').textContent()).resolves.toBe(MARK);
  await expect(unverifiedRow.locator('.unverified').isVisible()).resolves.toBe(true);
  await expect(verifiedRow.locator('.unverified').count()).resolves.toBe(0);

  await page.goto(`${server.url}/cases/${ids.caseB}`);
  await expect(page.locator('.case-head .unverified').isVisible()).resolves.toBe(true);
  await expect(page.locator('.case-head .unverified').textContent()).resolves.toBe(MARK);
  await page.goto(`${server.url}/cases/${ids.caseV}`);
  await expect(page.locator('.case-head .unverified').count()).resolves.toBe(0);

  const db = tdb.database.db;
  const [tb] = await db.select().from(tasks).where(eq(tasks.caseId, ids.caseB));
  const [tv] = await db.select().from(tasks).where(eq(tasks.caseId, ids.caseV));
  await page.goto(`${server.url}/tasks`);
  const cardB = page.locator(`#task-${tb!.id}`);
  await expect(cardB.getByRole('note').textContent()).resolves.toBe(MARK);
  await expect(cardB.getByRole('note').isVisible()).resolves.toBe(true);
  await expect(page.locator(`#task-${tv!.id} .unverified`).count()).resolves.toBe(0);
  await shot(page, 'tasks-unverified-mark');
});
