/**
 * The review UI over plain HTTP, on PostgreSQL and on PGlite: sessions, CSRF, the sign-in lock,
 * and the corrections (reject, settle, hold/release, tasks) with their audit events.
 */
import fsp from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { and, eq } from 'drizzle-orm';
import { parseConfig } from '../src/config';
import type { AppContext } from '../src/context';
import { openDatabase } from '../src/db/client';
import { auditEvents, cases, messages, outbox, persons, sessions, tasks, users } from '../src/db/schema';
import { ingestRaw } from '../src/intake/process';
import { logger } from '../src/log';
import { DEFAULT_RULES_DIR, loadRules } from '../src/rules/load';
import { usersAddCommand } from '../src/commands/users';
import { finishTask, takeTask } from '../src/tasks/actions';
import { createUser, findUser, verifyPassword } from '../src/users';
import { CONTENT_SECURITY_POLICY, startWebServer, type WebServer } from '../src/web/server';
import { HttpClient } from './support/http-client';
import { openTestDatabase, type TestDatabase } from './support/db';
import { teardown } from './support/teardown';

const USER = 'erik.it';
const PASSWORD = 'långt-och-hemligt-lösen';
const SIGN_IN_FAILED = 'Inloggningen misslyckades.';

const mail = (s: string) => Buffer.from(s.replace(/\r?\n/g, '\r\n'), 'utf8');

/** A notification with the username missing: the case waits for the provider and a request for more is queued. */
const INCOMPLETE = mail(`From: Maria Lund <maria.lund@attendo.se>
To: vardochstod@orebro.se
Subject: SITHS-kort klart
Date: Mon, 23 Nov 2026 08:30:00 +0100
Message-ID: <inc1@attendo.se>
Content-Type: text/plain; charset=utf-8

Hej,

Namn på behörig: Johan Ström
Funktion: Undersköterska
HSA-id: SE5565594230-B31

Hälsningar
Maria
`);

/** A complete notification: a task is created at once. */
const COMPLETE = mail(`From: Olle Berg <olle@vardaga.se>
To: vardochstod@orebro.se
Subject: Ny behörighet
Date: Mon, 23 Nov 2026 09:00:00 +0100
Message-ID: <comp1@vardaga.se>
Content-Type: text/plain; charset=utf-8

Namn på behörig: Eva Nilsson
Funktion: Sjuksköterska
HSA-id: SE2321000016-9EV1
Användarnamn i Treserva/TES: evanil
`);

const question = (n: number) =>
  mail(`From: Kim Andersson <kim@example.org>
To: vardochstod@orebro.se
Subject: Fråga nummer ${n}
Date: Mon, 23 Nov 2026 10:0${n}:00 +0100
Message-ID: <q${n}@example.org>
Content-Type: text/plain; charset=utf-8

Hej! Hur ansöker vi om behörighet till Lifecare? (${n})
`);

/** The shared tiny browser, signed in as this file's staff member by default. */
class Client extends HttpClient {
  override signIn(username = USER, password = PASSWORD): Promise<Response> {
    return super.signIn(username, password);
  }
}

describe.each(['postgres', 'pglite'] as const)('review UI over HTTP (%s)', (kind) => {
  let tdb: TestDatabase;
  let ctx: AppContext;
  let server: WebServer;
  let dataDir: string;
  let offsetMs = 0;
  const db = () => tdb.database.db;

  beforeAll(async () => {
    dataDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'lci-webhttp-'));
    tdb = await openTestDatabase(kind);
    ctx = {
      config: parseConfig({ DATA_DIR: dataDir, HTTP_PORT: '0', REPLY_PERSONAL_DATA: 'all' }),
      rules: loadRules(DEFAULT_RULES_DIR),
      database: tdb.database,
      log: logger('test'),
      now: () => new Date(Date.now() + offsetMs),
    };
    await createUser(tdb.database.db, USER, PASSWORD, { displayName: 'Erik IT' });
    server = await startWebServer(ctx);
  }, 60_000);

  afterAll(
    () =>
      teardown([
        ['server.close()', () => server?.close()],
        [`the ${kind} test database's cleanup()`, () => tdb?.cleanup()],
        ['removing DATA_DIR', () => dataDir && fsp.rm(dataDir, { recursive: true, force: true })],
      ]),
    90_000,
  );

  beforeEach(() => {
    offsetMs = 0;
  });

  test('listens on 127.0.0.1 by default', () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  test('requests without a session are refused', async () => {
    const anon = new Client(server.url);
    for (const url of ['/', '/cases', '/cases/1', '/review', '/tasks', '/tasks.csv', '/no-such-page']) {
      const res = await anon.get(url);
      expect([url, res.status]).toEqual([url, 303]);
      expect(res.headers.get('location')).toMatch(/^\/login/);
    }
    expect((await anon.get('/cases/1')).headers.get('location')).toBe('/login?next=%2Fcases%2F1');
    for (const url of [
      '/persons/1',
      '/tasks/1/take',
      '/tasks/1/done',
      '/cases/1/reject',
      '/messages/1/not-relevant',
      '/replies/1/hold',
      '/logout',
    ]) {
      const res = await anon.post(url, { _csrf: 'x', caseId: '1', reason: 'x' });
      expect([url, res.status]).toEqual([url, 401]);
    }
    // A made-up or stolen-and-expired cookie is no better.
    anon.cookies.set('lci_session', 'A'.repeat(43));
    expect((await anon.get('/cases')).status).toBe(303);

    // Public: health, static files, the sign-in page; every response carries the CSP.
    const health = await anon.get('/healthz');
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' }); // without a session: only ok / not ok
    const css = await anon.get('/static/app.css');
    expect(css.status).toBe(200);
    expect(css.headers.get('content-type')).toMatch(/^text\/css/);
    expect((await anon.get('/static/copy.js')).headers.get('content-type')).toMatch(/^text\/javascript/);
    expect((await anon.get('/static/../server.ts')).status).not.toBe(200);
    const login = await anon.get('/login');
    expect(login.status).toBe(200);
    for (const res of [health, css, login]) {
      expect(res.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
    }
  });

  test('sign-in: session cookie flags, CSRF on the sign-in form, one generic message, lock after five failures', async () => {
    await createUser(db(), 'lotta', PASSWORD);
    const c = new Client(server.url);
    // the sign-in form itself is CSRF-protected
    const forged = await c.post('/login', { username: 'lotta', password: PASSWORD });
    expect(forged.status).toBe(403);
    expect(c.cookies.has('lci_session')).toBe(false);

    const unknown = await c.signIn('nobody-here', PASSWORD);
    const wrong = await c.signIn('lotta', 'fel-lösenord-här');
    expect([unknown.status, wrong.status]).toEqual([401, 401]);
    const [t1, t2] = [await unknown.text(), await wrong.text()];
    expect(t1).toContain(SIGN_IN_FAILED);
    expect(t2).toContain(SIGN_IN_FAILED);
    expect(t1.replace(/value="[^"]*"/g, '')).toBe(t2.replace(/value="[^"]*"/g, ''));

    for (let i = 0; i < 4; i++) expect((await c.signIn('lotta', `fel-${i}-lösenord`)).status).toBe(401);
    const lotta = (await findUser(db(), 'lotta'))!;
    expect(lotta.lockedUntil!.getTime()).toBeGreaterThan(Date.now() + 14 * 60_000);
    // locked: even the right password is refused, with the same message
    const locked = await c.signIn('lotta', PASSWORD);
    expect(locked.status).toBe(401);
    expect(await locked.text()).toContain(SIGN_IN_FAILED);
    expect(c.cookies.has('lci_session')).toBe(false);
    const events = await db().select().from(auditEvents).where(eq(auditEvents.actor, 'user:lotta'));
    expect(events.map((e) => e.action)).toContain('user.locked');

    // 16 minutes later the lock is over
    offsetMs = 16 * 60_000;
    const ok = await c.signIn('lotta', PASSWORD);
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe('/cases');
    const setCookie = ok.headers.getSetCookie().find((x) => x.startsWith('lci_session='))!;
    expect(setCookie).toMatch(/; HttpOnly/);
    expect(setCookie).toMatch(/; SameSite=Strict/);
    expect(setCookie).toMatch(/; Path=\//);
    expect(setCookie).not.toMatch(/; Secure/); // SESSION_SECURE_COOKIE=false by default
    expect(c.cookies.get('lci_session')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((await c.get('/cases')).status).toBe(200);
    expect((await findUser(db(), 'lotta'))!).toMatchObject({ failedLogins: 0, lockedUntil: null });
  });

  test('a form post without the CSRF token is refused', async () => {
    const outcome = await ingestRaw(ctx, INCOMPLETE, { kind: 'ingest' });
    const caseId = outcome.caseId!;
    const [person] = await db().select().from(persons).where(eq(persons.caseId, caseId));
    const c = new Client(server.url);
    expect((await c.signIn()).status).toBe(303);
    const token = await c.token(`/cases/${caseId}`);
    const form = {
      caseId: String(caseId),
      name: 'Johan Ström',
      function: 'Undersköterska',
      hsaId: 'SE5565594230-B31',
      treservaUser: 'johstr',
    };

    expect((await c.post(`/persons/${person!.id}`, form)).status).toBe(403);
    expect((await c.post(`/persons/${person!.id}`, { ...form, _csrf: 'not-the-token' })).status).toBe(403);
    expect((await c.post(`/persons/${person!.id}`, { ...form, _csrf: token }, { origin: 'http://evil.example' })).status).toBe(403);
    expect((await c.post(`/persons/${person!.id}`, { ...form, _csrf: token }, { 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    // another user's token does not work either
    const other = new Client(server.url);
    await createUser(db(), 'mats', PASSWORD);
    await other.signIn('mats', PASSWORD);
    expect((await c.post(`/persons/${person!.id}`, { ...form, _csrf: await other.token('/cases') })).status).toBe(403);
    expect((await db().select().from(persons).where(eq(persons.id, person!.id)))[0]!.status).toBe('incomplete');
    expect(await db().select().from(tasks).where(eq(tasks.personId, person!.id))).toHaveLength(0);

    const res = await c.post(`/persons/${person!.id}`, { ...form, _csrf: token }, { origin: server.url, 'sec-fetch-site': 'same-origin' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`/cases/${caseId}?at=person-${person!.id}&ok=task-created#person-${person!.id}`);
    expect((await db().select().from(persons).where(eq(persons.id, person!.id)))[0]!.status).toBe('task_created');
    const page = await (await c.get(`/cases/${caseId}?ok=task-created`)).text();
    expect(page).toContain('Sparat. Uppgifterna är kompletta och ett uppdrag är skapat.');
    expect(page).toContain('Person rättad');
    expect(page).toContain(`av ${USER}`);
  });

  test('sign-out ends the session; an expired session is refused', async () => {
    const c = new Client(server.url);
    await c.signIn();
    const sid = c.cookies.get('lci_session')!;
    const token = await c.token('/cases');
    expect((await c.post('/logout', {})).status).toBe(403);
    const out = await c.post('/logout', { _csrf: token });
    expect(out.status).toBe(303);
    expect(out.headers.get('location')).toBe('/login?ok=signed-out');
    expect(await db().select().from(sessions).where(eq(sessions.id, sid))).toHaveLength(0);
    c.cookies.set('lci_session', sid);
    expect((await c.get('/cases')).status).toBe(303);

    const d = new Client(server.url);
    await d.signIn();
    expect((await d.get('/cases')).status).toBe(200);
    offsetMs = 9 * 3_600_000;
    expect((await d.get('/cases')).status).toBe(303);
  });

  test('review queue, replies, rejection and tasks: each change is audited and shown on the case', async () => {
    const c = new Client(server.url);
    await c.signIn();
    const token = await c.token('/cases');

    // A waiting case with a queued request for more information.
    const second = INCOMPLETE.toString('utf8')
      .replace('<inc1@attendo.se>', '<inc2@attendo.se>')
      .replace('SITHS-kort klart', 'Ytterligare en person')
      .replace('Johan Ström', 'Sofia Ek')
      .replace('SE5565594230-B31', 'SE5565594230-S0F');
    const waiting = await ingestRaw(ctx, mail(second), { kind: 'ingest' });
    expect(waiting.status).toBe('processed');
    const caseId = waiting.caseId!;
    const [c1] = await db().select().from(cases).where(eq(cases.id, caseId));
    const [reply] = await db().select().from(outbox).where(eq(outbox.caseId, caseId));
    expect(reply).toMatchObject({ kind: 'missing_info', status: 'pending' });

    // hold, then send
    expect((await c.post(`/replies/${reply!.id}/hold`, { _csrf: token, caseId: String(caseId) })).headers.get('location')).toBe(
      `/cases/${caseId}?ok=held#reply-${reply!.id}`,
    );
    expect((await db().select().from(outbox).where(eq(outbox.id, reply!.id)))[0]!.status).toBe('held');
    let page = await (await c.get(`/cases/${caseId}`)).text();
    expect(page).toContain('Hålls inne');
    expect(page).toMatch(new RegExp(`action="/replies/${reply!.id}/release"`));
    await c.post(`/replies/${reply!.id}/release`, { _csrf: token, caseId: String(caseId) });
    expect((await db().select().from(outbox).where(eq(outbox.id, reply!.id)))[0]!.status).toBe('pending');
    // holding twice conflicts politely
    await c.post(`/replies/${reply!.id}/hold`, { _csrf: token, caseId: String(caseId) });
    expect((await c.post(`/replies/${reply!.id}/hold`, { _csrf: token, caseId: String(caseId) })).headers.get('location')).toBe(
      `/cases/${caseId}?err=CONFLICT#reply-${reply!.id}`,
    );
    await c.post(`/replies/${reply!.id}/release`, { _csrf: token, caseId: String(caseId) });

    // Two mails nobody could place: one goes to the case, one is not relevant.
    const q1 = await ingestRaw(ctx, question(1), { kind: 'ingest' });
    const q2 = await ingestRaw(ctx, question(2), { kind: 'ingest' });
    expect([q1.status, q2.status]).toEqual(['review', 'review']);
    const review = await (await c.get('/review')).text();
    expect(review).toContain('Fråga nummer 1');
    expect(review).toContain('Fråga nummer 2');
    const bad = await c.post(`/messages/${q1.messageRowId}/assign`, { _csrf: token, caseRef: 'LSP-1999-9999' });
    expect(bad.headers.get('location')).toBe('/review?err=case-not-found');
    expect((await db().select().from(messages).where(eq(messages.id, q1.messageRowId!)))[0]!.status).toBe('review');
    const assigned = await c.post(`/messages/${q1.messageRowId}/assign`, { _csrf: token, caseRef: ` ${c1!.ref.toLowerCase()} ` });
    expect(assigned.headers.get('location')).toBe('/review?ok=assigned');
    expect((await db().select().from(messages).where(eq(messages.id, q1.messageRowId!)))[0]).toMatchObject({ status: 'settled', caseId });
    await c.post(`/messages/${q2.messageRowId}/not-relevant`, { _csrf: token, back: '//evil.example/' });
    expect((await db().select().from(messages).where(eq(messages.id, q2.messageRowId!)))[0]).toMatchObject({
      status: 'settled',
      reviewReason: 'ej relevant',
      caseId: null,
    });
    const after = await (await c.get('/review')).text();
    expect(after).not.toContain('Fråga nummer 1');
    expect(after).not.toContain('Fråga nummer 2');
    page = await (await c.get(`/cases/${caseId}`)).text();
    expect(page).toContain('Fråga nummer 1');
    expect(page).toContain('Meddelande kopplat till ärendet');

    // Reject: a reason is required; open tasks are cancelled, pending replies held.
    expect((await c.post(`/cases/${caseId}/reject`, { _csrf: token, reason: '  ' })).headers.get('location')).toBe(
      `/cases/${caseId}?err=reason-required#reject`,
    );
    const rejected = await c.post(`/cases/${caseId}/reject`, { _csrf: token, reason: 'Utföraren har inget avtal med kommunen.' });
    expect(rejected.headers.get('location')).toBe(`/cases/${caseId}?ok=rejected`);
    expect((await db().select().from(cases).where(eq(cases.id, caseId)))[0]).toMatchObject({
      status: 'rejected',
      rejectReason: 'Utföraren har inget avtal med kommunen.',
    });
    expect((await db().select().from(outbox).where(eq(outbox.id, reply!.id)))[0]!.status).toBe('held');
    page = await (await c.get(`/cases/${caseId}`)).text();
    expect(page).toContain('Ärendet avvisades');
    expect(page).toContain('Utföraren har inget avtal med kommunen.');
    expect(page).not.toContain(`action="/cases/${caseId}/reject"`);
    // The server enforces what the UI hides: no edit of a person in the rejected case, and a person
    // named with another case's id is not found.
    const [rp] = await db().select().from(persons).where(eq(persons.caseId, caseId));
    expect(
      (await c.post(`/persons/${rp!.id}`, { _csrf: token, caseId: String(caseId), treservaUser: 'nytt1' })).headers.get('location'),
    ).toBe(`/cases/${caseId}?at=person-${rp!.id}&err=case-closed#person-${rp!.id}`);
    const other = await ingestRaw(
      ctx,
      mail(INCOMPLETE.toString('utf8').replace('<inc1@attendo.se>', '<inc9@attendo.se>').replace('Johan Ström', 'Jon Ström')),
      { kind: 'ingest' },
    );
    const [op] = await db().select().from(persons).where(eq(persons.caseId, other.caseId!));
    expect(
      (await c.post(`/persons/${op!.id}`, { _csrf: token, caseId: String(caseId), treservaUser: 'nytt2' })).headers.get('location'),
    ).toBe(`/cases/${caseId}?at=person-${op!.id}&err=NOT_FOUND#person-${op!.id}`);
    expect((await db().select().from(persons).where(eq(persons.id, op!.id)))[0]!.treservaUser).toBeNull();

    // Every change above is an audit event by this user; reading the case is one too.
    const actions = (
      await db()
        .select()
        .from(auditEvents)
        .where(and(eq(auditEvents.caseId, caseId), eq(auditEvents.actor, `user:${USER}`)))
    ).map((e) => e.action);
    expect(new Set(actions)).toEqual(new Set(['case.viewed', 'reply.held', 'reply.released', 'message.assigned', 'case.rejected']));

    // Tasks: take, finish, then a second finish conflicts; the CSV has the task; the export is audited.
    const complete = await ingestRaw(ctx, COMPLETE, { kind: 'ingest' });
    const [task] = await db().select().from(tasks).where(eq(tasks.caseId, complete.caseId!));
    expect((await c.post(`/tasks/${task!.id}/take`, { _csrf: token })).headers.get('location')).toBe(`/tasks?ok=taken#task-${task!.id}`);
    const board = await (await c.get('/tasks')).text();
    expect(board).toContain(`id="task-${task!.id}"`);
    expect(board).toContain('data-copy="SE2321000016-9EV1"');
    // The sender is not verified (an unsigned mail): finishing needs "kontrollerat med utföraren".
    expect((await c.post(`/tasks/${task!.id}/done`, { _csrf: token, note: '' })).headers.get('location')).toBe(
      `/tasks?err=confirm-required#task-${task!.id}`,
    );
    expect(
      (await c.post(`/tasks/${task!.id}/done`, { _csrf: token, note: '', confirmedWithProvider: 'true' })).headers.get('location'),
    ).toBe(`/tasks?ok=done-mail#task-${task!.id}`);
    expect(
      (await c.post(`/tasks/${task!.id}/done`, { _csrf: token, note: '', confirmedWithProvider: 'true' })).headers.get('location'),
    ).toBe(`/tasks?err=CONFLICT#task-${task!.id}`);
    const csv = await c.get('/tasks.csv?status=done');
    expect(csv.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(csv.headers.get('content-disposition')).toMatch(/^attachment; filename="uppdrag-done-\d{4}-\d{2}-\d{2}\.csv"$/);
    const text = Buffer.from(await csv.arrayBuffer()).toString('utf8'); // (Response.text() would drop the BOM)
    expect(text.startsWith('\ufeffUppdrag;Ärende;Status;')).toBe(true);
    expect(text).toContain(';Eva Nilsson;Sjuksköterska;SE2321000016-9EV1;evanil;Vardaga;olle@vardaga.se;erik.it;');
    const exported = await db().select().from(auditEvents).where(eq(auditEvents.action, 'tasks.exported'));
    expect(exported.at(-1)).toMatchObject({ actor: `user:${USER}` });
  });

  test('case list: status filter, search by name, HSA-id, provider and reference, paging', async () => {
    const now = new Date();
    const rows = Array.from({ length: 130 }, (_, i): typeof cases.$inferInsert => ({
      ref: `LSP-2031-${String(i + 1).padStart(4, '0')}`,
      status: i % 2 === 0 ? 'review' : 'waiting',
      providerName: i % 3 === 0 ? 'Annat_bolag 100%' : 'Listbolaget AB',
      knownProvider: true,
      sender: `list${i}@listbolaget.se`,
      subject: `Lista ${i}`,
      createdAt: now,
      updatedAt: new Date(now.getTime() + 3_600_000 + i * 1000),
    }));
    const inserted = await db().insert(cases).values(rows).returning({ id: cases.id, ref: cases.ref });
    await db()
      .insert(persons)
      .values(
        inserted.map((c, i) => ({
          caseId: c.id,
          name: `Listperson ${i}`,
          function: 'Enhetschef',
          hsaId: `SE2321000016-L${i}X`,
          treservaUser: `lp${i}`,
          status: 'incomplete' as const,
        })),
      );

    const c = new Client(server.url);
    await c.signIn();
    const refsOn = (html: string) => [...html.matchAll(/<a href="\/cases\/\d+">(LSP-[0-9-]+)<\/a>/g)].map((m) => m[1]);

    let html = await (await c.get('/cases')).text();
    expect(refsOn(html)).toHaveLength(50);
    expect(refsOn(html)[0]).toBe('LSP-2031-0130'); // most recently changed first
    html = await (await c.get('/cases?status=review&page=2')).text();
    expect(html).toContain('65 ärenden. Sida 2 av 2.');
    expect(refsOn(html)).toEqual(Array.from({ length: 15 }, (_, k) => `LSP-2031-${String(29 - 2 * k).padStart(4, '0')}`));
    html = await (await c.get('/cases?q=listperson%207')).text(); // name: 7, 70-79
    expect(refsOn(html).sort()).toEqual(
      ['LSP-2031-0008', ...Array.from({ length: 10 }, (_, i) => `LSP-2031-${String(71 + i).padStart(4, '0')}`)].sort(),
    );
    html = await (await c.get('/cases?q=se2321000016-l42x')).text(); // HSA-id, any case
    expect(refsOn(html)).toEqual(['LSP-2031-0043']);
    html = await (await c.get('/cases?q=LSP-2031-0099')).text();
    expect(refsOn(html)).toEqual(['LSP-2031-0099']);
    html = await (await c.get('/cases?q=bolag+100%25')).text(); // provider; % is literal (as a wildcard it would match LSP-2031-0100)
    expect(html).toContain('44 ärenden matchar sökningen.');
    expect(refsOn(html).every((r) => (Number(r!.slice(-4)) - 1) % 3 === 0)).toBe(true);
    html = await (await c.get('/cases?q=Listbolaget&page=99')).text(); // sender; a page past the end shows the last
    expect(html).toContain('130 ärenden matchar sökningen. Sida 3 av 3.');
    html = await (await c.get('/cases?status=bogus&page=-3')).text();
    expect(html).toContain('Sida 1 av');
  });

  test('the case page pages its persons (50 a page)', async () => {
    const [big] = await db()
      .insert(cases)
      .values({ ref: 'LSP-2032-0001', status: 'review', sender: 'x@example.org', subject: 'Stor', updatedAt: new Date() })
      .returning({ id: cases.id });
    await db()
      .insert(persons)
      .values(Array.from({ length: 120 }, (_, i) => ({ caseId: big!.id, name: `Sidperson ${i + 1}`, status: 'needs_review' as const })));
    const c = new Client(server.url);
    await c.signIn();
    const cards = (html: string) => [...html.matchAll(/<article class="person card"/g)].length;
    const first = await (await c.get(`/cases/${big!.id}`)).text();
    expect(cards(first)).toBe(50);
    expect(first).toContain('Personer <span class="count">120</span>');
    expect(first).toContain(`href="/cases/${big!.id}?ppage=3#persons-h"`);
    const third = await (await c.get(`/cases/${big!.id}?ppage=3`)).text();
    expect(cards(third)).toBe(20);
    expect(third).toContain('Person 120: Sidperson 120');
  });

  test('/healthz answers 503 when something is down; the details only with a session', async () => {
    const down = await startWebServer(ctx, {
      mailboxStatus: () => ({ ok: false, detail: 'IMAP login failed', lastPollAt: new Date('2026-11-25T08:00:00Z') }),
    });
    try {
      const res = await fetch(`${down.url}/healthz`);
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({ status: 'not ok' });
      // signed in: the details
      const staff = new Client(down.url);
      expect((await staff.signIn()).status).toBe(303);
      const detailed = await staff.get('/healthz');
      expect(detailed.status).toBe(503);
      expect(await detailed.json()).toMatchObject({
        status: 'fail',
        database: { ok: true, detail: kind },
        mailbox: { ok: false, detail: 'IMAP login failed', lastPollAt: '2026-11-25T08:00:00.000Z' },
      });
    } finally {
      await down.close();
    }
  });

  test('a failed reply is sent again from the case page (audited)', async () => {
    const c = new Client(server.url);
    await c.signIn();
    const token = await c.token('/cases');
    const third = INCOMPLETE.toString('utf8')
      .replace('<inc1@attendo.se>', '<inc3@attendo.se>')
      .replace('SITHS-kort klart', 'Misslyckat svar')
      .replace('Johan Ström', 'Bo Ek')
      .replace('SE5565594230-B31', 'SE5565594230-B0E');
    const waiting = await ingestRaw(ctx, mail(third), { kind: 'ingest' });
    const caseId = waiting.caseId!;
    const [reply] = await db().select().from(outbox).where(eq(outbox.caseId, caseId));
    await db()
      .update(outbox)
      .set({ status: 'failed', attempts: 8, lastError: '535 Authentication failed' })
      .where(eq(outbox.id, reply!.id));
    const page = await (await c.get(`/cases/${caseId}`)).text();
    expect(page).toMatch(new RegExp(`action="/replies/${reply!.id}/requeue"`));
    const res = await c.post(`/replies/${reply!.id}/requeue`, { _csrf: token, caseId: String(caseId) });
    expect(res.headers.get('location')).toBe(`/cases/${caseId}?ok=requeued#reply-${reply!.id}`);
    expect((await db().select().from(outbox).where(eq(outbox.id, reply!.id)))[0]).toMatchObject({
      status: 'pending',
      attempts: 0,
      lastError: null,
    });
    expect((await c.post(`/replies/${reply!.id}/requeue`, { _csrf: token, caseId: String(caseId) })).headers.get('location')).toBe(
      `/cases/${caseId}?err=CONFLICT#reply-${reply!.id}`,
    );
    const actions = (
      await db()
        .select()
        .from(auditEvents)
        .where(and(eq(auditEvents.caseId, caseId), eq(auditEvents.actor, `user:${USER}`)))
    ).map((e) => e.action);
    expect(actions).toContain('reply.requeued');
  });

  test('finishing a task with REPLY_DONE_CONFIRMATION=false queues no confirmation; a done task cannot be taken', async () => {
    const raw = mail(
      COMPLETE.toString('utf8')
        .replace('<comp1@vardaga.se>', '<comp2@vardaga.se>')
        .replace('Eva Nilsson', 'Nils Eriksson')
        .replace('SE2321000016-9EV1', 'SE2321000016-N1L5')
        .replace('evanil', 'nileri'),
    );
    const out = await ingestRaw(ctx, raw, { kind: 'ingest' });
    const [task] = await db().select().from(tasks).where(eq(tasks.caseId, out.caseId!));
    const quiet = { ...ctx.config, replies: { ...ctx.config.replies, doneConfirmation: false } };
    await takeTask(db(), task!.id, 'user:test', new Date());
    const res = await finishTask(db(), quiet, ctx.rules, task!.id, 'user:test', 'klart', new Date(), { confirmedWithProvider: true });
    expect(res).toMatchObject({ replyId: null, caseStatus: 'done', task: { status: 'done', note: 'klart', assignee: 'test' } });
    expect(
      await db()
        .select()
        .from(outbox)
        .where(and(eq(outbox.caseId, out.caseId!), eq(outbox.kind, 'done_confirmation'))),
    ).toHaveLength(0);
    await expect(takeTask(db(), task!.id, 'user:test')).rejects.toMatchObject({ code: 'CONFLICT' });
  });
});

describe('staff accounts', () => {
  test('users add: password from LCI_PASSWORD or stdin, scrypt-hashed, --update sets a new one and lifts a lock', async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'lci-users-'));
    const lines: string[] = [];
    const env = { DATA_DIR: dir, LCI_PASSWORD: 'ett-långt-lösenord' };
    try {
      await usersAddCommand('Karin.IT', { env, displayName: 'Karin', write: (l) => lines.push(l) });
      await expect(usersAddCommand('karin.it', { env, write: (l) => lines.push(l) })).rejects.toMatchObject({ code: 'CONFLICT' });
      await expect(usersAddCommand('kort', { env: { DATA_DIR: dir, LCI_PASSWORD: 'för-kort' } })).rejects.toMatchObject({
        code: 'INVALID_INPUT',
      });
      const locked = await openDatabase({ pgliteDir: path.join(dir, 'pglite') });
      await locked.db
        .update(users)
        .set({ failedLogins: 3, lockedUntil: new Date(Date.now() + 600_000) })
        .where(eq(users.username, 'karin.it'));
      await locked.close();
      await usersAddCommand('karin.it', {
        env: { DATA_DIR: dir },
        stdin: Readable.from([Buffer.from('nytt-lösenord-från-stdin\n')]),
        update: true,
        write: (l) => lines.push(l),
      });
      expect(lines).toEqual(['created user karin.it', 'updated user karin.it']);
      const database = await openDatabase({ pgliteDir: path.join(dir, 'pglite') });
      try {
        const [u] = await database.db.select().from(users).where(eq(users.username, 'karin.it'));
        expect(u).toMatchObject({ displayName: 'Karin', failedLogins: 0, lockedUntil: null });
        expect(u!.passwordHash).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
        expect(await verifyPassword(u!.passwordHash, 'nytt-lösenord-från-stdin')).toBe(true);
        expect(await verifyPassword(u!.passwordHash, 'ett-långt-lösenord')).toBe(false);
        expect(await verifyPassword('garbage', 'x')).toBe(false);
      } finally {
        await database.close();
      }
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('stopping the UI', () => {
  test('a client that never finishes its request does not hold the stop: its connection is cut after the grace period', async () => {
    const tdb = await openTestDatabase('pglite');
    const dataDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'lci-webclose-'));
    const ctx: AppContext = {
      config: parseConfig({ DATA_DIR: dataDir, HTTP_PORT: '0' }),
      rules: loadRules(DEFAULT_RULES_DIR),
      database: tdb.database,
      log: logger('test'),
      now: () => new Date(),
    };
    const server = await startWebServer(ctx);
    try {
      const { port } = new URL(server.url);
      const socket = net.connect(Number(port), '127.0.0.1');
      await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
      const cut = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      // Headers promise 100 bytes of body; 2 come, the rest never does.
      socket.write(
        'POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nab',
      );
      await new Promise((r) => setTimeout(r, 200));
      const started = Date.now();
      await server.close();
      const took = Date.now() - started;
      await cut;
      expect(took).toBeGreaterThanOrEqual(4_000);
      expect(took).toBeLessThan(20_000);
    } finally {
      await server.close();
      await tdb.cleanup();
      await fsp.rm(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});
