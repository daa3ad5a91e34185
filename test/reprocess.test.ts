import { and, eq } from 'drizzle-orm';
import { parseConfig } from '../src/config';
import type { AppContext } from '../src/context';
import { reprocess } from '../src/cases/reprocess';
import { auditEvents, cases, messages, outbox, persons, tasks } from '../src/db/schema';
import { contentHash, ingestRaw } from '../src/intake/process';
import { logger } from '../src/log';
import { DEFAULT_RULES_DIR, loadRules } from '../src/rules/load';
import { openTestDatabase, type TestDatabase } from './support/db';

/** Issue 7, item 8: the current reader over stored mail; dry run, corrections kept, nothing twice. */

function mail(id: string, body: string): Buffer {
  return Buffer.from(
    `From: Anna Ek <anna@omsorgshuset.se>\r\nTo: vardochstod@orebro.se\r\nSubject: Nya SITHS-kort ${id}\r\nMessage-ID: <${id}@omsorgshuset.se>\r\n` +
      `Date: Wed, 25 Nov 2026 10:00:00 +0100\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${body}`,
  );
}
const LISA = 'Namn: Lisa Berg\r\nFunktion: Enhetschef\r\nHSA-id: SE2321000016-4HK5\r\nAnvändarnamn i Treserva: lisber\r\n';
const TWO =
  'Namn: Tor Ny\r\nFunktion: Planerare\r\nHSA-id: SE2321000016-TOR1\r\nAnvändarnamn i Treserva: torny\r\n\r\n' +
  'Namn: Eva Ek\r\nFunktion: Undersköterska\r\nHSA-id: SE2321000016-EVA1\r\nAnvändarnamn i Treserva: evaek\r\n';

describe.each(['postgres', 'pglite'] as const)('reprocess on %s', (kind) => {
  let tdb: TestDatabase;
  let ctx: AppContext;
  beforeAll(async () => {
    tdb = await openTestDatabase(kind);
    ctx = {
      config: parseConfig({ DATA_DIR: '/tmp/lci-unused', REPLY_PERSONAL_DATA: 'all' }),
      rules: loadRules(DEFAULT_RULES_DIR),
      database: tdb.database,
      log: logger('test').child({}, { level: 'silent' }),
      now: () => new Date(),
    };
  });
  afterAll(async () => tdb?.cleanup());

  test('a mail an older reader left in review becomes its case; the dry run changes nothing; twice is once', async () => {
    const db = tdb.database.db;
    // What an older reader stored: the mail kept raw, read as having no data, waiting for review.
    const raw = mail('old1', LISA);
    const [row] = await db
      .insert(messages)
      .values({
        source: 'ingest',
        messageId: '<old1@omsorgshuset.se>',
        contentHash: contentHash(raw),
        raw,
        size: raw.length,
        fromAddr: 'anna@omsorgshuset.se',
        subject: 'Nya SITHS-kort old1',
        kind: 'other',
        status: 'review',
        reviewReason: 'inga uppgifter hittades',
        bodyText: LISA,
        parsed: { messageId: null, from: null, subject: '', kind: 'other', persons: [], autoReply: false },
        authVerdict: 'pass',
        authDetail: 'test',
        receivedAt: new Date(),
      })
      .returning({ id: messages.id });
    const id = row!.id;

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
      .where(and(eq(auditEvents.action, 'message.reprocessed'), eq(auditEvents.messageId, id)));
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
});
