import { eq } from 'drizzle-orm';
import type { AppContext } from '../src/context';
import { correctPerson } from '../src/cases/persons';
import { cases, messages, outbox, persons, tasks } from '../src/db/schema';
import { ingestRaw } from '../src/intake/process';
import { applyRetention } from '../src/retention';
import { openTestDatabase, testContext, type TestDatabase } from './support/db';
import { annaMail as mail } from './support/mails';

/** The per-message stage and the storage layer, on real PostgreSQL and on PGlite. */

const LISA = 'Namn: Lisa Berg\r\nFunktion: Enhetschef\r\nHSA-id: SE2321000016-4HK5\r\nAnvändarnamn i Treserva: lisber\r\n';

describe.each(['postgres', 'pglite'] as const)('pipeline on %s', (kind) => {
  let tdb: TestDatabase;
  let ctx: AppContext;

  beforeAll(async () => {
    tdb = await openTestDatabase(kind);
    ctx = testContext(tdb.database, { REPLY_PERSONAL_DATA: 'all' });
  });
  afterAll(async () => tdb?.cleanup());

  test('a complete notification becomes a case, a task and a receipt; the same mail again changes nothing', async () => {
    const first = await ingestRaw(ctx, mail('c1', 'Ny behörighet', LISA), { kind: 'ingest' });
    expect(first).toMatchObject({ status: 'processed', folder: 'processed' });
    const again = await ingestRaw(ctx, mail('c1', 'Ny behörighet', LISA), { kind: 'ingest' });
    expect(again).toMatchObject({ status: 'duplicate', messageRowId: first.messageRowId });
    const db = tdb.database.db;
    const [c] = await db.select().from(cases).where(eq(cases.id, first.caseId!));
    expect(c).toMatchObject({ status: 'complete', providerName: 'Omsorgshuset i Örebro AB', knownProvider: true });
    expect(c!.ref).toMatch(/^LSP-\d{4}-\d{4}$/);
    const t = await db.select().from(tasks).where(eq(tasks.caseId, c!.id));
    expect(t).toHaveLength(1);
    expect(t[0]).toMatchObject({ name: 'Lisa Berg', hsaId: 'SE2321000016-4HK5', treservaUser: 'lisber', caseRef: c!.ref, status: 'open' });
    const replies = await db.select().from(outbox).where(eq(outbox.caseId, c!.id));
    expect(replies.map((r) => r.kind)).toEqual(['receipt']);
    expect(replies[0]!.subject).toContain(c!.ref);
  });

  test('a new batch with the same subject after a complete case is a new case, with its own receipt', async () => {
    const [first] = await tdb.database.db.select().from(cases).where(eq(cases.subject, 'Ny behörighet'));
    const o = await ingestRaw(
      ctx,
      mail('c1b', 'Ny behörighet', 'Namn: Tor Ny\r\nFunktion: Planerare\r\nHSA-id: SE2321000016-TOR\r\nAnvändarnamn i Treserva: torny\r\n'),
      { kind: 'ingest' },
    );
    expect(o.caseId).not.toBe(first!.id);
    const replies = await tdb.database.db.select().from(outbox).where(eq(outbox.caseId, o.caseId!));
    expect(replies.map((r) => r.kind)).toEqual(['receipt']);
    expect(replies[0]!.bodyText).toContain('Tor Ny, Planerare');
  });

  test('the same HSA-id in a new case gets no second task: the person is flagged for review', async () => {
    const o = await ingestRaw(ctx, mail('c2', 'Behörighet igen', LISA), { kind: 'ingest' });
    const db = tdb.database.db;
    const ps = await db.select().from(persons).where(eq(persons.caseId, o.caseId!));
    expect(ps[0]).toMatchObject({ status: 'duplicate' });
    expect(ps[0]!.reviewReason).toMatch(/redan en beställning/);
    expect(await db.select().from(tasks).where(eq(tasks.hsaId, 'SE2321000016-4HK5'))).toHaveLength(1);
    const [c] = await db.select().from(cases).where(eq(cases.id, o.caseId!));
    expect(c!.status).toBe('review');
  });

  test('a follow-up by case reference merges into the person and completes the case', async () => {
    const o = await ingestRaw(ctx, mail('i1', 'Nytt SITHS-kort', 'Namn: Erik Ek\r\nFunktion: Planerare\r\nHSA-id: SE2321000017-AB1\r\n'), {
      kind: 'ingest',
    });
    const db = tdb.database.db;
    const [c] = await db.select().from(cases).where(eq(cases.id, o.caseId!));
    expect(c!.status).toBe('waiting');
    const [ask] = await db.select().from(outbox).where(eq(outbox.caseId, c!.id));
    expect(ask).toMatchObject({ kind: 'missing_info', status: 'pending', inReplyTo: '<i1@omsorgshuset.se>' });
    expect(ask!.bodyText).toContain('kontrollsiffran är fel');
    expect(ask!.bodyText).toContain('Användarnamn i Treserva/TES saknas');

    // Still lacking the username: one more reply.
    const f1 = await ingestRaw(ctx, mail('i2', `SV: ${ask!.subject}`, 'HSA-id: SE2321000016-EE1\r\n'), { kind: 'ingest' });
    expect(f1.caseId).toBe(c!.id);
    const [p1] = await db.select().from(persons).where(eq(persons.caseId, c!.id));
    expect(p1).toMatchObject({ hsaId: 'SE2321000016-EE1', status: 'incomplete' });
    expect(p1!.problems.map((p) => p.field)).toEqual(['treservaUser']);
    expect(await db.select().from(outbox).where(eq(outbox.caseId, c!.id))).toHaveLength(2);

    // Threaded by In-Reply-To to our reply: complete now.
    const f2 = await ingestRaw(ctx, mail('i3', 'Re: svar', 'Användarnamn i Treserva: eriek\r\n', { inReplyTo: ask!.messageId }), {
      kind: 'ingest',
    });
    expect(f2.caseId).toBe(c!.id);
    const [done] = await db.select().from(cases).where(eq(cases.id, c!.id));
    expect(done!.status).toBe('complete');
    const [task] = await db.select().from(tasks).where(eq(tasks.caseId, c!.id));
    expect(task).toMatchObject({ name: 'Erik Ek', hsaId: 'SE2321000016-EE1', treservaUser: 'eriek' });
    expect(task!.sourceMessageIds).toHaveLength(3);
  });

  test("an id our own reply wrote (its example) is never taken as the provider's answer; another id is", async () => {
    const o = await ingestRaw(
      ctx,
      mail('ex1', 'Ny SITHS', 'Namn: Nina Lund\r\nFunktion: Planerare\r\nHSA-id: SE232100001-NL1\r\nAnvändarnamn i Treserva: ninlun\r\n'),
      {
        kind: 'ingest',
      },
    );
    const db = tdb.database.db;
    const [ask] = await db.select().from(outbox).where(eq(outbox.caseId, o.caseId!));
    // Our reply explains the form with an example id: the provider copies it back as if it were hers.
    const example = /SE\d{10}-[A-Z0-9]+/.exec(ctx.rules.fields.hsaId.messages.invalid)![0];
    expect(ask!.bodyText).toContain(example);
    await ingestRaw(ctx, mail('ex2', `SV: ${ask!.subject}`, `HSA-id: ${example}\r\n`), { kind: 'ingest' });
    const [p1] = await db.select().from(persons).where(eq(persons.caseId, o.caseId!));
    expect(p1).toMatchObject({ hsaId: 'SE232100001-NL1', status: 'incomplete' });
    expect(await db.select().from(tasks).where(eq(tasks.caseId, o.caseId!))).toHaveLength(0);
    // Her own id, written the same way, completes the person.
    await ingestRaw(ctx, mail('ex3', `SV: ${ask!.subject}`, 'HSA-id: SE2321000016-NL2\r\n'), { kind: 'ingest' });
    const [p2] = await db.select().from(persons).where(eq(persons.caseId, o.caseId!));
    expect(p2).toMatchObject({ hsaId: 'SE2321000016-NL2', status: 'task_created' });
  });

  test('an answer naming the persons of our request by first name completes each, and adds nobody', async () => {
    const two =
      'Namn: Piotr Nowicki\r\nFunktion: Undersköterska\r\nHSA-id: SE2321000016-PN5\r\n\r\nNamn: Tekle Gebremariam\r\nFunktion: Undersköterska\r\nHSA-id: SE2321000016-TG6\r\n';
    const o = await ingestRaw(ctx, mail('fn1', 'Nya undersköterskor', two), { kind: 'ingest' });
    const db = tdb.database.db;
    const [ask] = await db.select().from(outbox).where(eq(outbox.caseId, o.caseId!));
    const quoted = ask!.bodyText
      .split('\n')
      .map((l) => `> ${l}`)
      .join('\r\n');
    const answer = `Hej!\r\n\r\nPiotr och Tekle har användarnamnen pinowi respektive tekgeb.\r\n\r\n/Karin\r\n\r\nDen 4 okt. 2027 skrev vardochstod@orebro.se:\r\n${quoted}`;
    await ingestRaw(ctx, mail('fn2', `SV: ${ask!.subject}`, answer, { inReplyTo: ask!.messageId }), { kind: 'ingest' });
    const ps = await db.select().from(persons).where(eq(persons.caseId, o.caseId!)).orderBy(persons.id);
    expect(ps.map((p) => [p.name, p.treservaUser, p.status])).toEqual([
      ['Piotr Nowicki', 'pinowi', 'task_created'],
      ['Tekle Gebremariam', 'tekgeb', 'task_created'],
    ]);
  });

  test('a follow-up whose values fit none of several persons is set aside for review, not guessed', async () => {
    const two = 'Namn: Ida Ny\r\nFunktion: Planerare\r\n\r\nNamn: Bo Ny\r\nFunktion: Planerare\r\n';
    const o = await ingestRaw(ctx, mail('n1', 'Två nya', two), { kind: 'ingest' });
    const f = await ingestRaw(ctx, mail('n2', 'SV: Två nya', 'HSA-id: SE2321000016-NY1\r\n'), { kind: 'ingest' });
    expect(f.caseId).toBe(o.caseId);
    const ps = await tdb.database.db.select().from(persons).where(eq(persons.caseId, o.caseId!)).orderBy(persons.id);
    expect(ps.map((p) => [p.name, p.hsaId, p.status])).toEqual([
      ['Ida Ny', null, 'incomplete'],
      ['Bo Ny', null, 'incomplete'],
      [null, 'SE2321000016-NY1', 'needs_review'],
    ]);
    expect(ps[2]!.reviewReason).toMatch(/kunde inte kopplas/);
  });

  test('automated mail is stored, ignored and never answered; a mail without data goes to review', async () => {
    const ooo = await ingestRaw(ctx, mail('o1', 'Automatiskt svar: Ny behörighet', LISA, { headers: ['Auto-Submitted: auto-replied'] }), {
      kind: 'ingest',
    });
    expect(ooo).toMatchObject({ status: 'ignored', folder: 'ignored', caseId: null });
    const other = await ingestRaw(ctx, mail('x1', 'Fråga', 'Hej, hur beställer man SITHS-kort?\r\n'), { kind: 'ingest' });
    expect(other).toMatchObject({ status: 'review', folder: 'review' });
    const [row] = await tdb.database.db.select().from(messages).where(eq(messages.id, other.messageRowId!));
    expect(row!.reviewReason).toBe('inga uppgifter hittades');
    expect(row!.raw.toString()).toContain('hur beställer man');
  });

  test('a staff correction re-validates, creates the task and is audited', async () => {
    const o = await ingestRaw(
      ctx,
      mail(
        'k1',
        'Ny användare',
        'Namn: Sara Lind\r\nFunktion: Samordnare\r\nHSA-id: SE5565594230-X\r\nAnvändarnamn i Treserva: sa lind\r\n',
      ),
      { kind: 'ingest' },
    );
    const db = tdb.database.db;
    const [p] = await db.select().from(persons).where(eq(persons.caseId, o.caseId!));
    expect(p!.problems.map((x) => x.field)).toEqual(['treservaUser']);
    await expect(correctPerson(db, ctx.rules, p!.id, { treservaUser: 'sa lind2' }, 'user:it')).resolves.toMatchObject({ tasksCreated: [] });
    const fixed = await correctPerson(db, ctx.rules, p!.id, { treservaUser: 'salind' }, 'user:it');
    expect(fixed.person.status).toBe('task_created');
    expect(fixed.tasksCreated).toHaveLength(1);
    // The request for data, not yet sent, is withdrawn: the provider is not asked for what IT fixed.
    const [ask] = await db.select().from(outbox).where(eq(outbox.caseId, o.caseId!));
    expect(ask).toMatchObject({ kind: 'missing_info', status: 'suppressed' });
  });

  test('the retention rule erases personal data of finished cases after RETENTION_DAYS, and only those', async () => {
    const db = tdb.database.db;
    const o = await ingestRaw(
      ctx,
      mail(
        'r1',
        'Gammalt ärende',
        'Namn: Olle Ny\r\nFunktion: Planerare\r\nHSA-id: SE5565594230-OLL\r\nAnvändarnamn i Treserva: ollny\r\n',
      ),
      { kind: 'ingest' },
    );
    const open = await ingestRaw(ctx, mail('r2', 'Pågående', 'Namn: Pia Ny\r\nFunktion: Planerare\r\n'), { kind: 'ingest' });
    await db.update(cases).set({ status: 'done' }).where(eq(cases.id, o.caseId!));
    const later = { ...ctx, now: () => new Date(Date.now() + 366 * 86_400_000) };
    const r = await applyRetention(later);
    expect(r.cases).toBe(1);
    const [m] = await db.select().from(messages).where(eq(messages.id, o.messageRowId!));
    expect(m!.raw.length).toBe(0);
    expect(m!.bodyText).toBe('');
    const [p] = await db.select().from(persons).where(eq(persons.caseId, o.caseId!));
    expect(p).toMatchObject({ name: null, hsaId: null, treservaUser: null });
    const [t] = await db.select().from(tasks).where(eq(tasks.caseId, o.caseId!));
    expect(t!.name).toBe('');
    expect(t!.hsaId).toMatch(/^RADERAD-/);
    const [kept] = await db.select().from(persons).where(eq(persons.caseId, open.caseId!));
    expect(kept!.name).toBe('Pia Ny');
    expect((await applyRetention(later)).cases).toBe(0);
  });
});
