import { and, eq } from 'drizzle-orm';
import { parseConfig } from '../src/config';
import type { AppContext } from '../src/context';
import { reprocess } from '../src/cases/reprocess';
import { auditEvents, cases, messages, outbox, persons, tasks } from '../src/db/schema';
import { contentHash, ingestRaw } from '../src/intake/process';
import { createUser } from '../src/users';
import { startWebServer } from '../src/web/server';
import { HttpClient } from './support/http-client';
import { openTestDatabase, testContext, type TestDatabase } from './support/db';
import { annaMail } from './support/mails';

/** Issue 7, item 8: the current reader over stored mail; dry run, corrections kept, nothing twice. */

const mail = (id: string, body: string) => annaMail(id, `Nya SITHS-kort ${id}`, body);
const LISA = 'Namn: Lisa Berg\r\nFunktion: Enhetschef\r\nHSA-id: SE2321000016-4HK5\r\nAnvändarnamn i Treserva: lisber\r\n';
const TWO =
  'Namn: Tor Ny\r\nFunktion: Planerare\r\nHSA-id: SE2321000016-TOR1\r\nAnvändarnamn i Treserva: torny\r\n\r\n' +
  'Namn: Eva Ek\r\nFunktion: Undersköterska\r\nHSA-id: SE2321000016-EVA1\r\nAnvändarnamn i Treserva: evaek\r\n';

/** What an older reader stored: the mail kept raw, read as having no data, waiting for review. */
async function storedByOlderReader(tdb: TestDatabase, id: string, body: string): Promise<number> {
  const db = tdb.database.db;
  const raw = mail(id, body);
  const [row] = await db
    .insert(messages)
    .values({
      source: 'ingest',
      messageId: `<${id}@omsorgshuset.se>`,
      contentHash: contentHash(raw),
      raw,
      size: raw.length,
      fromAddr: 'anna@omsorgshuset.se',
      subject: `Nya SITHS-kort ${id}`,
      kind: 'other',
      status: 'review',
      reviewReason: 'inga uppgifter hittades',
      bodyText: body,
      parsed: { messageId: null, from: null, subject: '', kind: 'other', persons: [], autoReply: false },
      authVerdict: 'pass',
      authDetail: 'test',
      receivedAt: new Date(),
    })
    .returning({ id: messages.id });
  return row!.id;
}

describe.each(['postgres', 'pglite'] as const)('reprocess on %s', (kind) => {
  let tdb: TestDatabase;
  let ctx: AppContext;
  beforeAll(async () => {
    tdb = await openTestDatabase(kind);
    ctx = testContext(tdb.database, { REPLY_PERSONAL_DATA: 'all' });
  });
  afterAll(async () => tdb?.cleanup());

  test('a mail an older reader left in review becomes its case; the dry run changes nothing; twice is once', async () => {
    const db = tdb.database.db;
    const id = await storedByOlderReader(tdb, 'old1', LISA);

    const dry = await reprocess(ctx, { messageId: id }, { dryRun: true, actor: 'cli' });
    expect(dry[0]).toMatchObject({
      action: 'case',
      before: { kind: 'other' },
      after: { kind: 'notification', persons: 1 },
      tasksCreated: 1,
    });
    expect(dry[0]!.repliesQueued).toBe(1);
    expect(await db.select().from(cases)).toHaveLength(0);
    const [still] = await db.select().from(messages).where(eq(messages.id, id));
    expect(still).toMatchObject({ status: 'review', kind: 'other', caseId: null });

    const done = await reprocess(ctx, { review: true }, { dryRun: false, actor: 'user:anna' });
    expect(done).toHaveLength(1);
    const [after] = await db.select().from(messages).where(eq(messages.id, id));
    expect(after).toMatchObject({ status: 'processed', kind: 'notification' });
    const t = await db.select().from(tasks).where(eq(tasks.caseId, after!.caseId!));
    expect(t.map((x) => x.treservaUser)).toEqual(['lisber']);
    expect((await db.select().from(outbox).where(eq(outbox.caseId, after!.caseId!))).map((r) => r.kind)).toEqual(['receipt']);
    const trail = await db
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.action, 'message.reprocessed'), eq(auditEvents.messageRowId, id)));
    expect(trail.map((a) => a.actor)).toEqual(['user:anna']);

    const again = await reprocess(ctx, { messageId: id }, { dryRun: false, actor: 'cli' });
    expect(again[0]!.action).toBe('unchanged');
    expect(await db.select().from(tasks).where(eq(tasks.caseId, after!.caseId!))).toHaveLength(1);
    expect(await db.select().from(outbox).where(eq(outbox.caseId, after!.caseId!))).toHaveLength(1);
  });

  test("a person an older reader read short is filled and gets its task; staff's correction stands", async () => {
    const db = tdb.database.db;
    const o = await ingestRaw(ctx, mail('two1', TWO), { kind: 'ingest' });
    const ps = await db.select().from(persons).where(eq(persons.caseId, o.caseId!)).orderBy(persons.id);
    const [tor, eva] = ps as [(typeof ps)[number], (typeof ps)[number]];
    // As an older reader and a staff member left them: Eva's username not read; Tor corrected by hand.
    for (const p of ps) await db.delete(tasks).where(eq(tasks.personId, p.id));
    await db
      .update(persons)
      .set({ treservaUser: null, problems: [{ field: 'treservaUser', code: 'missing', message: '' }], status: 'incomplete' })
      .where(eq(persons.id, eva.id));
    await db
      .update(persons)
      .set({
        treservaUser: null,
        function: 'Samordnare',
        problems: [{ field: 'treservaUser', code: 'missing', message: '' }],
        status: 'incomplete',
        correctedBy: ['user:anna'],
      })
      .where(eq(persons.id, tor.id));

    const [change] = await reprocess(ctx, { messageId: o.messageRowId! }, { dryRun: false, actor: 'cli' });
    expect(change).toMatchObject({ action: 'persons', personsUpdated: 1, personsAdded: 0, tasksCreated: 1 });
    expect(change!.fields).toEqual([{ person: 1, field: 'treservaUser', before: null, after: 'evaek' }]);
    const [tor2] = await db.select().from(persons).where(eq(persons.id, tor.id));
    expect(tor2).toMatchObject({ function: 'Samordnare', treservaUser: null, status: 'incomplete' });
    const [eva2] = await db.select().from(persons).where(eq(persons.id, eva.id));
    expect(eva2).toMatchObject({ treservaUser: 'evaek', status: 'task_created' });
  });
  test('"Tolka igen" on a review mail: the preview changes nothing, "Tillämpa" makes the case', async () => {
    const db = tdb.database.db;
    await createUser(db, 'erik.it', 'långt-och-hemligt-lösen', { displayName: 'Erik IT' });
    const server = await startWebServer({
      ...ctx,
      config: parseConfig({ DATA_DIR: '/tmp/lci-unused', HTTP_PORT: '0', REPLY_PERSONAL_DATA: 'all' }),
    });
    try {
      const id = await storedByOlderReader(
        tdb,
        'web1',
        'Namn: Mia Ek\r\nFunktion: Samordnare\r\nHSA-id: SE2321000016-MIA1\r\nAnvändarnamn i Treserva: miaek\r\n',
      );
      const c = new HttpClient(server.url);
      await c.signIn('erik.it', 'långt-och-hemligt-lösen');
      const token = await c.token('/review');
      expect(await (await c.get('/review')).text()).toContain(`action="/messages/${id}/reprocess"`);
      const preview = await (await c.post(`/messages/${id}/reprocess`, { _csrf: token })).text();
      expect(preview).toContain('Tillämpa');
      expect(preview).toMatch(/ärende med 1 personer, 1 uppdrag, 1 svar/);
      expect(preview).toContain('miaek');
      const [still] = await db.select().from(messages).where(eq(messages.id, id));
      expect(still!.caseId).toBeNull();
      const applied = await c.post(`/messages/${id}/reprocess`, { _csrf: token, apply: '1' });
      const [after] = await db.select().from(messages).where(eq(messages.id, id));
      expect(applied.headers.get('location')).toBe(`/cases/${after!.caseId}?ok=reprocessed`);
      const trail = await db
        .select()
        .from(auditEvents)
        .where(and(eq(auditEvents.action, 'message.reprocessed'), eq(auditEvents.messageRowId, id)));
      expect(trail.map((a) => a.actor)).toEqual(['user:erik.it']);
    } finally {
      await server.close();
    }
  });
});
