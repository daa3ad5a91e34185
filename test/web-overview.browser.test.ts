/**
 * Issue 9 in a real browser (Debian's Chromium via playwright-core) over PGlite filled by ingesting
 * real .eml bytes at chosen times: the statistics page and its CSV, bulk take / done on the board
 * (one audit event per task), honest save messages next to the form, a person corrected after the
 * task exists, one person rejected, notes, a manual reply, a case made from a review mail, Outlook
 * tables shown as tables, the audit log and its CSV, the case list's sort, search and date range;
 * every page reflows at 390 px and has a visible focus ring. Screenshots of every page at 1366×768
 * and 390×844 go to test-output/screenshots/.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { and, eq, inArray } from 'drizzle-orm';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { parseConfig } from '../src/config';
import type { AppContext } from '../src/context';
import { auditEvents, cases, messages, outbox, persons, tasks } from '../src/db/schema';
import { ingestRaw } from '../src/intake/process';
import { logger } from '../src/log';
import { DEFAULT_RULES_DIR, loadRules } from '../src/rules/load';
import { finishTask, takeTask } from '../src/tasks/actions';
import { createUser } from '../src/users';
import { dayOf } from '../src/web/dates';
import { startWebServer, type WebServer } from '../src/web/server';
import { launchBrowser } from './support/browser';
import { openTestDatabase, type TestDatabase } from './support/db';
import { buildMail, hsaIdFor, msgId, personBlock, type Person } from './support/mails';

const SHOTS = path.resolve(__dirname, '../test-output/screenshots');
const USER = 'lena.lead';
const PASSWORD = 'lång-och-säker-fras-9';
const DAY = 86_400_000;
const REAL_NOW = Date.now();

let tdb: TestDatabase;
let ctx: AppContext;
let server: WebServer;
let browser: Browser;
let context: BrowserContext;
let dataDir: string;
let clock = new Date(REAL_NOW - 40 * DAY);
let live = false;

const verified = (domain: string) => [
  `Authentication-Results: mx.orebro.se; spf=pass smtp.mailfrom=${domain}; dkim=pass header.d=${domain}; dmarc=pass header.from=${domain}`,
];

function mail(o: { from: string; subject: string; persons: Person[]; headers?: string[]; tag: string }): Buffer {
  const body = [
    'Hej!',
    '',
    'Här kommer uppgifterna.',
    '',
    o.persons.map(personBlock).join('\n\n'),
    '',
    'Med vänliga hälsningar',
    'Sara',
  ].join('\n');
  return Buffer.from(
    buildMail({ from: o.from, subject: o.subject, messageId: msgId(o.tag, o.from.split('@')[1]!), body, headers: o.headers ?? [] }),
    'utf8',
  );
}

const person = (i: number, tag: string, name: string): Person => ({
  name,
  function: 'Undersköterska',
  hsaId: hsaIdFor(i, tag),
  user: `usr${tag.toLowerCase()}${i}`,
});

/** An Outlook HTML-only mail: the persons in a table. */
const TABLE_MAIL = Buffer.from(
  buildMail({
    from: 'anna.ek@omsorgshuset.se',
    subject: 'Nya behörigheter (tabell)',
    messageId: '<table1@omsorgshuset.se>',
    contentType: 'text/html; charset=utf-8',
    body: `<html><body><p>Hej!</p><p>Här är våra nya medarbetare:</p>
<table border="1"><tr><td><b>Namn</b></td><td><b>Funktion</b></td><td><b>HSA-id</b></td><td><b>Användarnamn i Treserva/TES</b></td></tr>
<tr><td>Tove Tabell</td><td>Sjuksköterska</td><td>${hsaIdFor(1, 'TB')}</td><td>tovtab</td></tr>
<tr><td>Tor &lt;b&gt;Tabell&lt;/b&gt;</td><td>Enhetschef</td><td>${hsaIdFor(2, 'TB')}</td><td>tortab</td></tr></table>
<p>Med vänliga hälsningar<br>Anna</p></body></html>`,
  }),
  'utf8',
);

const REVIEW_MAIL = Buffer.from(
  buildMail({
    from: 'per@omsorgshuset.se',
    subject: 'Fråga om en ny medarbetare',
    messageId: '<q9@omsorgshuset.se>',
    body: 'Hej, vi har en ny medarbetare som börjar snart. Hur gör vi?\n\nMvh Per',
  }),
  'utf8',
);

const ids = { s: 0, five: 0, attendo: 0, evil: 0, table: 0, invalid: 0 };

async function ingestAt(raw: Buffer, at: Date) {
  clock = at;
  return ingestRaw(ctx, raw, { kind: 'ingest' });
}

beforeAll(async () => {
  fs.mkdirSync(SHOTS, { recursive: true });
  dataDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'lci-web9-'));
  tdb = await openTestDatabase('pglite');
  ctx = {
    config: parseConfig({ DATA_DIR: dataDir, HTTP_PORT: '0', REPLY_PERSONAL_DATA: 'all', MAIL_TRUSTED_AUTHSERV_ID: 'mx.orebro.se' }),
    rules: loadRules(DEFAULT_RULES_DIR),
    database: tdb.database,
    log: logger('test'),
    now: () => (live ? new Date() : clock),
  };
  const db = tdb.database.db;
  // Statistics window: 35 to 12 days ago. Two verified persons granted after 2 and 5 days.
  const s = await ingestAt(
    mail({
      from: 'olle@vardaga.se',
      subject: 'Två nya',
      persons: [person(1, 'S', 'Siv Snabb'), person(2, 'S', 'Sam Snabb')],
      headers: verified('vardaga.se'),
      tag: 's',
    }),
    new Date(REAL_NOW - 30 * DAY),
  );
  ids.s = s.caseId!;
  const sTasks = await db.select().from(tasks).where(eq(tasks.caseId, ids.s));
  expect(sTasks).toHaveLength(2);
  clock = new Date(REAL_NOW - 28 * DAY);
  await finishTask(db, ctx.config, ctx.rules, sTasks[0]!.id, 'user:olof', null, clock);
  clock = new Date(REAL_NOW - 25 * DAY);
  await finishTask(db, ctx.config, ctx.rules, sTasks[1]!.id, 'user:olof', null, clock);
  // An incomplete mail (needs a reply) and an unknown sender whose address starts with "=".
  const a = await ingestAt(
    mail({
      from: 'kim@attendo.se',
      subject: 'Ny personal',
      persons: [{ name: 'Kim Kort', function: 'Chef', hsaId: 'SE2321000017-4HK5', user: 'kimkor' }],
      tag: 'a',
    }),
    new Date(REAL_NOW - 22 * DAY),
  );
  ids.attendo = a.caseId!;
  const e = await ingestAt(
    mail({ from: '=cmd|calc@evil.example', subject: 'x', persons: [person(1, 'E', 'Eva Elak')], tag: 'e' }),
    new Date(REAL_NOW - 21 * DAY),
  );
  ids.evil = e.caseId!;
  // A five-person case from a verified provider: its tasks are worked in bulk (after the window).
  const five = await ingestAt(
    mail({
      from: 'olle@vardaga.se',
      subject: 'Fem nya medarbetare',
      persons: ['Ada Alm', 'Bo Björk', 'Cia Ceder', 'Dan Dunge', 'Eja Ek'].map((n, i) => person(i + 1, 'F', n)),
      headers: verified('vardaga.se'),
      tag: 'five',
    }),
    new Date(REAL_NOW - 20 * DAY),
  );
  ids.five = five.caseId!;
  const t = await ingestAt(TABLE_MAIL, new Date(REAL_NOW - 2 * DAY));
  ids.table = t.caseId!;
  const inv = await ingestAt(
    mail({
      from: 'kim@attendo.se',
      subject: 'Rättelse behövs',
      persons: [{ name: 'Ivan Ogiltig', function: 'Chef', hsaId: 'SE2321000017-9ZZ', user: 'ivaogi' }, person(3, 'I', 'Ina Giltig')],
      tag: 'inv',
    }),
    new Date(REAL_NOW - DAY),
  );
  ids.invalid = inv.caseId!;
  const r = await ingestAt(REVIEW_MAIL, new Date(REAL_NOW - DAY));
  expect([s.status, a.status, e.status, five.status, t.status, inv.status, r.status]).toEqual([
    'processed',
    'processed',
    'processed',
    'processed',
    'processed',
    'processed',
    'review',
  ]);
  clock = new Date(REAL_NOW);
  // The clock follows real time from here on (sessions, audit events).
  live = true;
  await createUser(db, USER, PASSWORD, { displayName: 'Lena Lead' });
  server = await startWebServer(ctx);
  browser = await launchBrowser();
}, 180_000);

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

async function signIn(page: Page): Promise<void> {
  await page.goto(`${server.url}/login`);
  await page.getByLabel('Användarnamn').fill(USER);
  await page.getByLabel('Lösenord').fill(PASSWORD);
  await page.getByRole('button', { name: 'Logga in' }).click();
  await page.waitForURL(`${server.url}/cases`);
}

async function download(page: Page, click: () => Promise<void>): Promise<{ name: string; text: string }> {
  const [d] = await Promise.all([page.waitForEvent('download'), click()]);
  return { name: d.suggestedFilename(), text: (await fsp.readFile(await d.path(), 'utf8')).replace(/^\ufeff/, '') };
}

const csvLines = (text: string) => text.trim().split('\r\n');

test('statistics: cases and persons per week, median and 90th percentile to access, share needing a reply, per provider; SVG chart; CSV formula-safe', async () => {
  const page = await context.newPage();
  await signIn(page);
  const from = dayOf(new Date(REAL_NOW - 35 * DAY));
  const to = dayOf(new Date(REAL_NOW - 12 * DAY));
  await page.getByRole('link', { name: 'Statistik' }).click();
  await page.waitForURL(`${server.url}/stats`);
  await page.getByLabel('från och med').fill(from);
  await page.getByLabel('till och med').fill(to);
  await page.getByRole('button', { name: 'Visa' }).click();
  await page.waitForURL(/\/stats\?from=/);
  // S (2 persons), attendo (1), evil (1), five (5): 4 cases, 9 persons.
  expect(await page.locator('#kpi-cases').textContent()).toBe('4');
  expect(await page.locator('#kpi-persons').textContent()).toBe('9');
  expect(await page.locator('#kpi-granted').textContent()).toBe('2');
  // 2 and 5 days: median 3.5, 90th percentile 2 + 0.9 × 3 = 4.7.
  expect(await page.locator('#kpi-median').textContent()).toBe('3,5 dagar');
  expect(await page.locator('#kpi-p90').textContent()).toBe('4,7 dagar');
  // One of four notifications needed a request for data (the invalid HSA-id from Attendo).
  expect((await page.locator('#kpi-share').textContent())!.replace(/\s+/g, ' ')).toBe('25 % (1 av 4)');
  const vardaga = page.locator('#providers tbody tr', { hasText: 'Vardaga' });
  expect((await vardaga.textContent())!.replace(/\s+/g, ' ')).toContain('Vardaga 2 7 2 3,5 dagar 4,7 dagar 0 % (0 av 2)');
  expect((await page.locator('#providers tbody tr', { hasText: 'Attendo' }).textContent())!.replace(/\s+/g, ' ')).toContain(
    '100 % (1 av 1)',
  );
  // The chart is inline SVG made by the server: two bars per week, a title, no script.
  const svg = page.locator('svg.chart');
  expect(await svg.getAttribute('role')).toBe('img');
  expect(await svg.locator('title#chart-title').textContent()).toBe('Ärenden och personer per vecka');
  const weeks = await page.locator('#weeks tbody tr').count();
  expect(weeks).toBeGreaterThanOrEqual(2);
  expect(await svg.locator('rect.bar-cases').count()).toBe(weeks + 1); // + the legend swatch
  const weekSum = await page.locator('#weeks tbody tr td:nth-child(3)').allTextContents();
  expect(weekSum.reduce((n, x) => n + Number(x), 0)).toBe(4);
  await shotBoth(page, 'stats');

  const csv = await download(page, () => page.getByRole('link', { name: 'Hämta siffrorna (CSV)' }).click());
  expect(csv.name).toBe(`statistik-${from}-${to}.csv`);
  const lines = csvLines(csv.text);
  expect(lines[0]).toBe(
    'Rad;Vecka eller utförare;Ärenden;Personer;Behörigheter klara;Median dagar till behörighet;90:e percentil dagar;Anmälningar;Behövde komplettering',
  );
  expect(lines).toContain('totalt;;4;9;2;3,5;4,7;4;1');
  expect(lines).toContain('utförare;Vardaga;2;7;2;3,5;4,7;2;0');
  // The sender address starting with "=" is text, never a formula.
  expect(lines).toContain("utförare;'=cmd|calc@evil.example;1;1;0;;;1;0");
  expect(lines.filter((l) => l.startsWith('vecka;'))).toHaveLength(weeks);

  // The task export takes the same date range (created 31 to 29 days ago: case S's two tasks).
  const [sFrom, sTo] = [dayOf(new Date(REAL_NOW - 31 * DAY)), dayOf(new Date(REAL_NOW - 29 * DAY))];
  const res = await page.request.get(`${server.url}/tasks.csv?from=${sFrom}&to=${sTo}`);
  expect(res.headers()['content-disposition']).toContain(`uppdrag-alla-fran-${sFrom}-till-${sTo}-`);
  const taskLines = csvLines((await res.text()).replace(/^\ufeff/, ''));
  expect(taskLines).toHaveLength(3);
  expect(taskLines.slice(1).every((l) => /;Siv Snabb;|;Sam Snabb;/.test(l))).toBe(true);
  await page.close();
});

test('task board: grouped by case, filters, bulk take and bulk done with one audit event per task; removal first', async () => {
  const page = await context.newPage();
  await signIn(page);
  const db = tdb.database.db;
  const fiveTasks = await db.select().from(tasks).where(eq(tasks.caseId, ids.five)).orderBy(tasks.id);
  expect(fiveTasks).toHaveLength(5);
  const [c5] = await db.select().from(cases).where(eq(cases.id, ids.five));
  await page.goto(`${server.url}/tasks`);
  // Grouped by case: the five tasks sit under one heading with the case reference.
  const group = page.locator(`#group-open-${ids.five}`);
  expect(await group.locator('article.task').count()).toBe(5);
  expect(await group.locator('.group-head').textContent()).toContain(c5!.ref);
  // Filter by provider: only Vardaga's open tasks.
  await page.getByLabel('Utförare', { exact: true }).selectOption('Vardaga');
  await page.getByRole('button', { name: 'Filtrera' }).click();
  await page.waitForURL(/provider=Vardaga/);
  expect(await page.locator('#col-open ~ .case-group article.task, section:has(#col-open) article.task').count()).toBe(5);
  await shotBoth(page, 'tasks-filtered');
  // Pick three and take them at once.
  for (const t of fiveTasks.slice(0, 3)) await page.locator(`#task-${t.id}`).getByLabel(/Välj/).check();
  await page.getByRole('button', { name: 'Ta valda' }).click();
  await page.waitForURL(/bulk=take/);
  expect(new URL(page.url()).searchParams.get('provider')).toBe('Vardaga'); // the filter is kept
  expect(await page.locator('#page-notice').textContent()).toBe('Du har tagit 3 uppdrag.');
  expect(await page.locator('#page-notice').getAttribute('role')).toBe('status');
  const taken = await db
    .select()
    .from(auditEvents)
    .where(
      and(
        eq(auditEvents.action, 'task.taken'),
        inArray(
          auditEvents.taskId,
          fiveTasks.map((t) => t.id),
        ),
      ),
    );
  expect(taken.map((e) => e.taskId).sort()).toEqual(
    fiveTasks
      .slice(0, 3)
      .map((t) => t.id)
      .sort(),
  );
  expect(taken.every((e) => e.actor === `user:${USER}`)).toBe(true);
  // The case's two remaining open tasks with the group's button.
  await page.getByRole('button', { name: `Ta alla 2 i ${c5!.ref}` }).click();
  await page.waitForURL(/bulk=take&n=2/);
  expect(
    (await db.select().from(tasks).where(eq(tasks.caseId, ids.five))).every((t) => t.status === 'in_progress' && t.assignee === USER),
  ).toBe(true);
  // Finish all five at once, with a note.
  for (const t of fiveTasks) await page.locator(`#task-${t.id}`).getByLabel(/Välj/).check();
  await page.locator('summary', { hasText: 'Anteckning och kontroll' }).click();
  await page
    .getByLabel(/Meddelande till utföraren/)
    .first()
    .fill('Klart i Lifecare SP.');
  await page.getByRole('button', { name: 'Markera valda som klara' }).click();
  await page.waitForURL(/bulk=done&n=5/);
  expect(await page.locator('#page-notice').textContent()).toBe('5 uppdrag markerade som klara.');
  const done = await db
    .select()
    .from(auditEvents)
    .where(
      and(
        eq(auditEvents.action, 'task.done'),
        inArray(
          auditEvents.taskId,
          fiveTasks.map((t) => t.id),
        ),
      ),
    );
  expect(done).toHaveLength(5);
  expect((await db.select().from(cases).where(eq(cases.id, ids.five)))[0]!.status).toBe('done');
  await shotBoth(page, 'tasks-bulk-done');

  // Bulk done on a task of an unverified sender without the check is refused for that task and said so.
  const [inv] = await db.select().from(tasks).where(eq(tasks.caseId, ids.evil));
  await page.goto(`${server.url}/tasks`);
  await page.locator(`#task-${inv!.id}`).getByLabel(/Välj/).check();
  await page.getByRole('button', { name: 'Markera valda som klara' }).click();
  await page.waitForURL(/bulk=done&n=0&skipped=1/);
  expect(await page.locator('#page-error').textContent()).toContain('1 uppdrag ändrades inte (kräver "kontrollerat med utföraren")');
  expect(await page.locator('#page-error').getAttribute('role')).toBe('alert');
  expect((await db.select().from(tasks).where(eq(tasks.id, inv!.id)))[0]!.status).toBe('open');

  // The person cards of the finished case say "Behörighet klar".
  await page.goto(`${server.url}/cases/${ids.five}`);
  expect(await page.locator('.person .status', { hasText: 'Behörighet klar' }).count()).toBe(5);
  // Filter by action: removals only (none here) hides the grant columns' tasks.
  await page.goto(`${server.url}/tasks?action=revoke`);
  expect(await page.locator('article.task').count()).toBe(0);
  expect(await page.locator('#col-removals').count()).toBe(1);
  await page.close();
});

test('case page: honest save messages next to the form, the task follows a correction, reject one person, notes, a manual reply', async () => {
  const page = await context.newPage();
  await signIn(page);
  const db = tdb.database.db;
  const ps = await db.select().from(persons).where(eq(persons.caseId, ids.invalid)).orderBy(persons.id);
  const [ivan, ina] = ps as [(typeof ps)[number], (typeof ps)[number]];
  await page.goto(`${server.url}/cases/${ids.invalid}`);
  await shotBoth(page, 'case-invalid');

  // An HSA-id that is still wrong: not "sparat" in green, an alert in the person's card, focused.
  const card = page.locator(`#person-${ivan.id}`);
  await card.getByLabel('HSA-id').fill('SE2321000017-8ZZ');
  await card.getByRole('button', { name: 'Spara och kontrollera' }).click();
  await page.waitForURL(/err=still-problems/);
  const alert = page.locator(`#person-${ivan.id} [role="alert"]`);
  expect(await alert.textContent()).toContain('Inte klart');
  expect(await alert.textContent()).not.toMatch(/^Sparat/);
  expect(await page.locator('#page-notice, #page-error').count()).toBe(0); // not at the top, off-screen
  await page.waitForFunction(`document.activeElement && document.activeElement.id === 'result-person-${ivan.id}'`);
  const box = (await alert.boundingBox())!;
  expect(box.y).toBeGreaterThanOrEqual(0);
  expect(box.y).toBeLessThan(768); // where the officer is
  expect((await db.select().from(tasks).where(eq(tasks.personId, ivan.id))).length).toBe(0);
  await shotBoth(page, 'case-save-invalid');

  // Now valid: a status message in the card, the task is made.
  await card.getByLabel('HSA-id').fill('SE2321000016-9ZZ');
  await card.getByRole('button', { name: 'Spara och kontrollera' }).click();
  await page.waitForURL(/ok=task-created/);
  const ok = page.locator(`#person-${ivan.id} [role="status"]`);
  expect(await ok.textContent()).toBe('Sparat. Uppgifterna är kompletta och ett uppdrag är skapat.');
  const [task] = await db.select().from(tasks).where(eq(tasks.personId, ivan.id));
  expect(task).toMatchObject({ status: 'open', hsaId: 'SE2321000016-9ZZ', function: 'Chef' });

  // The task exists; correct the function: the task follows.
  await page.locator(`#person-${ivan.id}`).getByLabel('Funktion').fill('Enhetschef');
  await page.locator(`#person-${ivan.id}`).getByRole('button', { name: 'Spara och kontrollera' }).click();
  await page.waitForURL(/ok=task-updated/);
  expect(await page.locator(`#person-${ivan.id} [role="status"]`).textContent()).toContain('Uppdraget har fått de rättade uppgifterna');
  expect((await db.select().from(tasks).where(eq(tasks.id, task!.id)))[0]).toMatchObject({ function: 'Enhetschef', status: 'open' });
  // An invalid value on a person with a task is refused as a whole: nothing saved.
  await page.locator(`#person-${ivan.id}`).getByLabel('HSA-id').fill('SE123');
  await page.locator(`#person-${ivan.id}`).getByRole('button', { name: 'Spara och kontrollera' }).click();
  await page.waitForURL(/err=task-needs-complete/);
  expect(await page.locator(`#person-${ivan.id} [role="alert"]`).textContent()).toContain('Ingenting sparades');
  expect((await db.select().from(tasks).where(eq(tasks.id, task!.id)))[0]!.hsaId).toBe('SE2321000016-9ZZ');

  // Reject one person (Ina): her task is cancelled, Ivan's is not.
  const inaCard = page.locator(`#person-${ina.id}`);
  await inaCard.locator('summary', { hasText: 'Avvisa personen' }).click();
  await inaCard.getByLabel('Anledning').fill('Arbetar inte hos utföraren.');
  await inaCard.getByRole('button', { name: 'Avvisa personen' }).click();
  await page.waitForURL(/ok=person-rejected/);
  expect((await db.select().from(persons).where(eq(persons.id, ina.id)))[0]!.status).toBe('rejected');
  expect((await db.select().from(tasks).where(eq(tasks.personId, ina.id)))[0]!.status).toBe('cancelled');
  expect((await db.select().from(tasks).where(eq(tasks.id, task!.id)))[0]!.status).toBe('open');
  expect(await page.locator(`#person-${ina.id} .status`).first().textContent()).toBe('Avvisad');

  // An internal note, shown in its own section, never sent.
  await page.getByLabel('Ny anteckning').fill('Ringde Kim: HSA-id rättat per telefon.');
  await page.getByRole('button', { name: 'Spara anteckningen' }).click();
  await page.waitForURL(/ok=note-added/);
  expect(await page.locator('#notes [role="status"]').textContent()).toBe('Anteckningen är sparad.');
  expect(await page.locator('.note-list').textContent()).toContain('Ringde Kim: HSA-id rättat per telefon.');
  // A manual reply, queued through the outbox and listed with the replies.
  const before = await db.select().from(outbox).where(eq(outbox.caseId, ids.invalid));
  await page.getByLabel(/Meddelande till kim@attendo.se/).fill('Hej Kim! Vi har rättat HSA-id:t efter vårt samtal.');
  await page.getByRole('button', { name: 'Lägg i utkorgen' }).click();
  await page.waitForURL(/ok=manual-reply/);
  const after = await db.select().from(outbox).where(eq(outbox.caseId, ids.invalid));
  const manual = after.find((r) => !before.some((b) => b.id === r.id))!;
  expect(manual).toMatchObject({ kind: 'manual', status: 'pending', toAddr: 'kim@attendo.se' });
  expect(manual.bodyText).toContain('Hej Kim! Vi har rättat HSA-id:t efter vårt samtal.');
  expect(manual.bodyText).toContain('Lena Lead');
  expect(manual.inReplyTo).toMatch(/^<inv\./);
  expect(await page.locator(`#reply-${manual.id}`).textContent()).toContain('Eget svar från handläggare');
  await shotBoth(page, 'case-notes-reply');
  // No raw codes: a reply stopped by the per-case limit reads in Swedish.
  await db.update(outbox).set({ status: 'suppressed', suppressReason: 'rate-limit-case' }).where(eq(outbox.id, before[0]!.id));
  await page.goto(`${server.url}/cases/${ids.invalid}`);
  const replies = (await page.locator('.replies').textContent())!;
  expect(replies).not.toContain('rate-limit-case');
  expect(replies).toContain('så många automatiska svar som tillåts per dygn');
  await page.close();
});

test('Outlook table mail shown as a table (escaped); a review mail becomes a case', async () => {
  const page = await context.newPage();
  await signIn(page);
  const db = tdb.database.db;
  await page.goto(`${server.url}/cases/${ids.table}`);
  const table = page.locator('.message table.mailtable').first();
  expect(await table.locator('tr').count()).toBe(3);
  expect(await table.locator('tr').first().locator('td').allTextContents()).toEqual([
    'Namn',
    'Funktion',
    'HSA-id',
    'Användarnamn i Treserva/TES',
  ]);
  expect(await table.locator('tr').nth(2).locator('td').first().textContent()).toBe('Tor <b>Tabell</b>');
  expect(await page.locator('.message table.mailtable b').count()).toBe(0);
  await shotBoth(page, 'case-table-mail');

  await page.goto(`${server.url}/review`);
  await shotBoth(page, 'review');
  const item = page.locator('article.message', { hasText: 'Fråga om en ny medarbetare' });
  await item.getByRole('button', { name: 'Skapa nytt ärende av meddelandet' }).click();
  await page.waitForURL(/\/cases\/\d+\?ok=case-created/);
  const id = Number(new URL(page.url()).pathname.split('/')[2]);
  expect(await page.locator('#page-notice').textContent()).toBe('Ett ärende är skapat från meddelandet.');
  const [c] = await db.select().from(cases).where(eq(cases.id, id));
  expect(c).toMatchObject({
    sender: 'per@omsorgshuset.se',
    providerName: 'Omsorgshuset i Örebro AB',
    subject: 'Fråga om en ny medarbetare',
  });
  const [m] = await db.select().from(messages).where(eq(messages.messageId, '<q9@omsorgshuset.se>'));
  expect(m).toMatchObject({ status: 'settled', caseId: id });
  expect(await page.locator('.timeline').textContent()).toContain('Ärendet skapades från ett meddelande att granska');
  await page.close();
});

test('case list: received and age columns, oldest first, sort by any column, search by username and message text, date range, mina uppdrag', async () => {
  const page = await context.newPage();
  await signIn(page);
  const db = tdb.database.db;
  const refOf = async (id: number) => (await db.select().from(cases).where(eq(cases.id, id)))[0]!.ref;
  await page.getByRole('link', { name: 'Äldst först' }).click();
  await page.waitForURL(/sort=received&dir=asc/);
  const refs = await page.locator('table.list tbody th a').allTextContents();
  expect(refs[0]).toBe(await refOf(ids.s));
  expect(await page.locator('table.list tbody tr').first().locator('td.age').textContent()).toBe('30 dagar');
  expect(await page.locator('th[aria-sort]').textContent()).toContain('Mottaget');
  expect(await page.locator('th[aria-sort]').getAttribute('aria-sort')).toBe('ascending');
  await shotBoth(page, 'cases-oldest-first');
  // Sort by provider, then the same header again reverses.
  await page.locator('thead a.sort', { hasText: 'Utförare' }).click();
  await page.waitForURL(/sort=provider&dir=asc/);
  const providers = await page.locator('table.list tbody td[data-label="Utförare"]').allTextContents();
  const firstWords = providers.map((p) => p.trim().split(/\s+/)[0]!.toLowerCase());
  expect(firstWords).toEqual([...firstWords].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
  await page.locator('thead a.sort', { hasText: 'Utförare' }).click();
  await page.waitForURL(/sort=provider&dir=desc/);
  // On a phone the headers are hidden: the sort form does the same.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.getByLabel('Sortera på').selectOption('persons');
  await page.getByLabel('ordning').selectOption('desc');
  await page.getByRole('button', { name: 'Sortera', exact: true }).click();
  await page.waitForURL(/sort=persons&dir=desc/);
  expect((await page.locator('table.list tbody th a').allTextContents())[0]).toBe(await refOf(ids.five));
  await page.setViewportSize({ width: 1366, height: 768 });
  // Search by a username and by text that is only in a mail's body.
  await page.goto(`${server.url}/cases?q=tovtab`);
  expect(await page.locator('table.list tbody th a').allTextContents()).toEqual([await refOf(ids.table)]);
  await page.goto(`${server.url}/cases?q=${encodeURIComponent('här är våra nya medarbetare')}`);
  expect(await page.locator('table.list tbody th a').allTextContents()).toEqual([await refOf(ids.table)]);
  // Date range: received 31 to 29 days ago is only case S.
  await page.goto(`${server.url}/cases`);
  await page.getByLabel('från och med').fill(dayOf(new Date(REAL_NOW - 31 * DAY)));
  await page.getByLabel('till och med').fill(dayOf(new Date(REAL_NOW - 29 * DAY)));
  await page.getByRole('button', { name: 'Visa' }).click();
  await page.waitForURL(/from=/);
  expect(await page.locator('table.list tbody th a').allTextContents()).toEqual([await refOf(ids.s)]);
  // Mina uppdrag: the cases where this officer has taken or finished a task.
  const [t] = await db.select().from(tasks).where(eq(tasks.caseId, ids.table));
  await takeTask(db, t!.id, `user:${USER}`);
  await page.goto(`${server.url}/cases?mine=1`);
  const mine = await page.locator('table.list tbody th a').allTextContents();
  expect(mine).toContain(await refOf(ids.table));
  expect(mine).not.toContain(await refOf(ids.s));
  await page.close();
});

test('audit log: search by who, what, case and date; CSV of the selection, formula-safe; admins only', async () => {
  const page = await context.newPage();
  await signIn(page);
  const db = tdb.database.db;
  const [c] = await db.select().from(cases).where(eq(cases.id, ids.s));
  await page.getByRole('link', { name: 'Händelselogg' }).click();
  await page.waitForURL(`${server.url}/audit`);
  await page.getByLabel('Vad').selectOption('task.done');
  await page.getByLabel('Ärende').fill(c!.ref);
  await page.getByRole('button', { name: 'Sök' }).click();
  await page.waitForURL(/action=task.done/);
  expect(await page.locator('#audit-log tbody tr').count()).toBe(2);
  expect(await page.locator('#audit-log tbody').textContent()).toContain('olof');
  await page.getByLabel('Vem (användarnamn)').fill('olof');
  await page.getByLabel('Till och med').fill(dayOf(new Date(REAL_NOW - 27 * DAY)));
  await page.getByRole('button', { name: 'Sök' }).click();
  await page.waitForURL(/to=/);
  expect(await page.locator('#audit-log tbody tr').count()).toBe(1); // the one 28 days ago
  await shotBoth(page, 'audit');
  const csv = await download(page, () => page.getByRole('link', { name: 'Exportera urvalet (CSV)' }).click());
  const lines = csvLines(csv.text);
  expect(lines[0]).toBe('Händelse;Tid;Vem;Vad;Åtgärdskod;Ärende;Person;Uppdrag;Meddelande;Ändringar');
  expect(lines).toHaveLength(2);
  expect(lines[1]).toContain(`;olof;Uppdrag klart;task.done;${c!.ref};`);
  // The export is itself in the log.
  const [exported] = await db.select().from(auditEvents).where(eq(auditEvents.action, 'audit.exported'));
  expect(exported).toMatchObject({ actor: `user:${USER}` });
  // Free text in the changes: the evil sender never becomes a formula in the CSV.
  await db.insert(auditEvents).values({ actor: 'user:=HYPERLINK("x")', action: 'case.note', after: { note: '=1+2' } });
  const res = await page.request.get(`${server.url}/audit.csv?action=case.note`);
  const rows = csvLines((await res.text()).replace(/^\ufeff/, ''));
  expect(rows.some((l) => l.includes(`'=HYPERLINK`))).toBe(true);
  expect(rows.some((l) => /;=/.test(l))).toBe(false);
  // A handläggare gets 403.
  await createUser(db, 'hanna', PASSWORD, { role: 'handlaggare' });
  const other = await browser.newContext();
  const p2 = await other.newPage();
  await p2.goto(`${server.url}/login`);
  await p2.getByLabel('Användarnamn').fill('hanna');
  await p2.getByLabel('Lösenord').fill(PASSWORD);
  await p2.getByRole('button', { name: 'Logga in' }).click();
  await p2.waitForURL(`${server.url}/cases`);
  expect(await p2.getByRole('link', { name: 'Händelselogg' }).count()).toBe(0);
  expect((await p2.goto(`${server.url}/audit`))!.status()).toBe(403);
  expect((await p2.goto(`${server.url}/audit.csv`))!.status()).toBe(403);
  await other.close();
  await page.close();
});

/** Every page, at 390 px: no horizontal scroll (WCAG 1.4.10); screenshots at both sizes. */
test('every page reflows at 390 px without horizontal scrolling; the focus ring has at least 3:1 contrast', async () => {
  const page = await context.newPage();
  await page.goto(`${server.url}/login`);
  const pages: Array<[string, string]> = [['login', '/login']];
  await signIn(page);
  pages.push(
    ['cases', '/cases'],
    ['case-five', `/cases/${ids.five}`],
    ['case-invalid', `/cases/${ids.invalid}`],
    ['case-table-mail', `/cases/${ids.table}`],
    ['review', '/review'],
    ['tasks', '/tasks'],
    ['stats', '/stats'],
    ['audit', '/audit'],
    ['admin-users', '/admin/users'],
    ['not-found', '/cases/999999'],
  );
  const wide: string[] = [];
  for (const [name, url] of pages) {
    for (const [w, h] of [
      [390, 844],
      [1366, 768],
    ] as const) {
      await page.setViewportSize({ width: w, height: h });
      if (name === 'login') await context.clearCookies();
      await page.goto(`${server.url}${url}`);
      await page.waitForLoadState('load');
      const m = await page.evaluate<{ scroll: number; client: number; inner: number }>(
        '({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth, inner: window.innerWidth })',
      );
      if (m.scroll > m.client || m.scroll > w) wide.push(`${name} at ${w}: ${m.scroll} > ${m.client}`);
      await page.screenshot({ path: path.join(SHOTS, `${w}-${name}.png`), fullPage: true });
      if (name === 'login' && w === 1366) await signIn(page);
    }
    if (name === 'login') {
      await page.setViewportSize({ width: 1366, height: 768 });
    }
  }
  expect(wide).toEqual([]);

  // Focus ring: tab to the search field and a link; the outline is 3 px and at least 3:1 against the page.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${server.url}/cases`);
  await page.locator('#q').focus();
  await page.keyboard.press('Shift+Tab');
  await page.keyboard.press('Tab');
  const ring = await page.evaluate<{ id: string; width: string; style: string; color: string; bg: string }>(`(() => {
    const el = document.activeElement;
    const s = getComputedStyle(el);
    const bg = getComputedStyle(document.querySelector('main')).backgroundColor;
    const page = getComputedStyle(document.documentElement).backgroundColor;
    return { id: el.id, width: s.outlineWidth, style: s.outlineStyle, color: s.outlineColor, bg: bg === 'rgba(0, 0, 0, 0)' ? page : bg };
  })()`);
  expect(ring.id).toBe('q');
  expect(ring.style).toBe('solid');
  expect(parseFloat(ring.width)).toBeGreaterThanOrEqual(2);
  expect(contrast(ring.color, ring.bg)).toBeGreaterThanOrEqual(3);
  await page.close();
});

async function shotBoth(page: Page, name: string): Promise<void> {
  const size = page.viewportSize()!;
  await page.screenshot({ path: path.join(SHOTS, `1366-${name}.png`), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: path.join(SHOTS, `390-${name}.png`), fullPage: true });
  await page.setViewportSize(size);
}

function luminance(css: string): number {
  const [r, g, b] = (css.match(/[\d.]+/g) ?? ['0', '0', '0']).slice(0, 3).map((v) => {
    const c = Number(v) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  }) as [number, number, number];
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

function contrast(a: string, b: string): number {
  const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p) as [number, number];
  return (x + 0.05) / (y + 0.05);
}
