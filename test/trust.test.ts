/**
 * Issue 8's attacks, each against the real per-message pipeline (ingestRaw, what `ingest`, the
 * maildrop folder and IMAP call) on PostgreSQL and on PGlite: case hijack by reference, by
 * In-Reply-To and by subject; forged From: with dmarc=fail and with a forged Authentication-Results;
 * a rejected case and a later mail; a leaver; a stale take; the caps; personnummer in every field.
 * DKIM is verified on real signatures made here with a generated key, served by a resolver (no network).
 */
import crypto from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import { dkimSign } from 'mailauth';
import { correctPerson } from '../src/cases/persons';
import { handleNotification } from '../src/cases/notification';
import { maskPersonnummerInText, sanitizeRecord } from '../src/cases/sanitize';
import { senderStanding } from '../src/cases/sender-check';
import { casesListing, tasksListing } from '../src/commands/listings';
import type { AppContext } from '../src/context';
import { auditEvents, cases, messages, outbox, persons, tasks } from '../src/db/schema';
import { authenticateSender, trustedAuthResults } from '../src/intake/authenticate';
import { ingestRaw } from '../src/intake/process';
import { detectIntent } from '../src/parse/intent';
import { readMail } from '../src/parse/read-mail';
import type { PersonRecord } from '../src/parse/types';
import { mailboxKey } from '../src/replies/enqueue';
import { DEFAULT_RULES_DIR, loadRules, type Rules } from '../src/rules/load';
import { finishTask, holdReply, rejectCase, releaseTask, takeTask } from '../src/tasks/actions';
import { csvCell } from '../src/web/routes-tasks';
import { openTestDatabase, testContext, type TestDatabase } from './support/db';
import { buildMail, hsaIdFor, msgId, personBlock, type Person } from './support/mails';

const AUTHSERV = 'mx.orebro.se';
const pass = `Authentication-Results: ${AUTHSERV}; spf=pass smtp.mailfrom=attendo.se; dkim=pass header.d=attendo.se; dmarc=pass action=none header.from=attendo.se`;
const dmarcFail = `Authentication-Results: ${AUTHSERV}; spf=fail smtp.mailfrom=attendo.se; dkim=none; dmarc=fail action=quarantine header.from=attendo.se`;

function mailFrom(
  from: string,
  subject: string,
  persons: Person[],
  o: { headers?: string[]; inReplyTo?: string; text?: string; messageId?: string } = {},
) {
  const messageId = o.messageId ?? msgId('t', from.split('@')[1]!);
  const body = [o.text ?? 'Hej!', '', persons.map(personBlock).join('\n\n'), '', 'Med vänliga hälsningar', 'Maria'].join('\n');
  return { raw: Buffer.from(buildMail({ from, subject, messageId, body, headers: o.headers, inReplyTo: o.inReplyTo })), messageId };
}

const rulesWithOrgNumbers = (rules: Rules): Rules => ({
  ...rules,
  senders: {
    ...rules.senders,
    providers: rules.senders.providers.map((p) => (p.name === 'Attendo' ? { ...p, orgNumbers: ['5565594230'] } : p)),
  },
});

describe.each(['postgres', 'pglite'] as const)('trust on %s', (kind) => {
  let tdb: TestDatabase;
  let ctx: AppContext;
  const db = () => tdb.database.db;
  const ingest = (raw: Buffer, c: AppContext = ctx) => ingestRaw(c, raw, { kind: 'ingest' });
  const caseOf = async (id: number) => (await db().select().from(cases).where(eq(cases.id, id)))[0]!;
  const personsOf = (caseId: number) => db().select().from(persons).where(eq(persons.caseId, caseId)).orderBy(persons.id);
  const tasksOf = (caseId: number) => db().select().from(tasks).where(eq(tasks.caseId, caseId)).orderBy(tasks.id);
  const repliesOf = (caseId: number) => db().select().from(outbox).where(eq(outbox.caseId, caseId)).orderBy(outbox.id);

  beforeAll(async () => {
    tdb = await openTestDatabase(kind);
    ctx = testContext(
      tdb.database,
      { MAIL_TRUSTED_AUTHSERV_ID: AUTHSERV, REPLY_MAX_PER_RECIPIENT_PER_HOUR: '1000', REPLY_MAX_PER_CASE_PER_DAY: '1000' },
      { rules: rulesWithOrgNumbers(loadRules(DEFAULT_RULES_DIR)) },
    );
  });
  afterAll(async () => tdb?.cleanup());

  /** The real provider's verified mail: Johan lacks his username; a case waiting for data. */
  async function victimCase(tag: string) {
    const m = mailFrom(
      'maria.lund@attendo.se',
      `SITHS-kort ${tag}`,
      [
        {
          name: `Johan Ström${tag}`,
          function: 'Undersköterska',
          hsaId: hsaIdFor(1000 + tag.length * 7 + tag.charCodeAt(0), 'J', 232_100_001, 1, 1),
        },
      ],
      { headers: [pass] },
    );
    const o = await ingest(m.raw);
    const c = await caseOf(o.caseId!);
    expect(c).toMatchObject({ status: 'waiting', senderVerified: true, providerName: 'Attendo' });
    return { o, c, messageId: m.messageId };
  }

  async function expectUntouched(caseId: number, before: Awaited<ReturnType<typeof personsOf>>) {
    const now = await personsOf(caseId);
    expect(now.map((p) => [p.id, p.name, p.hsaId, p.treservaUser, p.status])).toEqual(
      before.map((p) => [p.id, p.name, p.hsaId, p.treservaUser, p.status]),
    );
    expect(await tasksOf(caseId)).toHaveLength(0);
  }

  /** What a stranger sends: the victim's missing username, and a new person of his own. */
  const strangerPersons = (tag: string): Person[] => [
    { name: `Johan Ström${tag}`, user: 'evilusr' },
    { name: 'Eve Angripare', function: 'Enhetschef', hsaId: hsaIdFor(77 + tag.length), user: 'eveang' },
  ];

  async function expectRefused(out: { caseId: number | null }, victim: { c: typeof cases.$inferSelect }, strangerAddress: string) {
    expect(out.caseId).not.toBe(victim.c.id);
    const mine = await caseOf(out.caseId!);
    expect(mine).toMatchObject({ refersToRef: victim.c.ref, senderVerified: false });
    const ps = await personsOf(mine.id);
    expect(ps.every((p) => p.status === 'needs_review' && p.reviewReason === `hänvisar till ${victim.c.ref} från en annan avsändare`)).toBe(
      true,
    );
    expect(await tasksOf(mine.id)).toHaveLength(0);
    // The stranger's reply lists nobody: a neutral acknowledgement.
    const replies = (await db().select().from(outbox).where(eq(outbox.toAddr, strangerAddress))).filter(
      (r) => r.caseId === mine.id || r.caseId === victim.c.id,
    );
    expect(replies.every((r) => r.caseId === mine.id && (r.kind === 'acknowledgement' || r.status === 'suppressed'))).toBe(true);
    for (const r of replies) expect(r.bodyText).not.toContain('Johan');
  }

  test('hijack by case reference in the subject from another sender: the case is not changed', async () => {
    const victim = await victimCase('A');
    const before = await personsOf(victim.c.id);
    const attack = mailFrom('eve@evil.example', `SV: Komplettering behövs [${victim.c.ref}]`, strangerPersons('A'), {
      headers: [
        `Authentication-Results: ${AUTHSERV}; spf=pass smtp.mailfrom=evil.example; dkim=pass header.d=evil.example; dmarc=pass header.from=evil.example`,
      ],
    });
    const out = await ingest(attack.raw);
    await expectUntouched(victim.c.id, before);
    await expectRefused(out, victim, 'eve@evil.example');
  });

  test('a mail without data from another sender quoting the reference is not put on the case', async () => {
    const victim = await victimCase('G');
    const out = await ingest(mailFrom('eve@evil.example', `Fråga [${victim.c.ref}]`, [], { text: 'Hej, vad gäller det här?' }).raw);
    expect(out).toMatchObject({ status: 'review', caseId: null });
    const [m] = await db().select().from(messages).where(eq(messages.id, out.messageRowId!));
    expect(m!.reviewReason).toContain(`hänvisar till ${victim.c.ref} från en annan avsändare`);
    expect((await caseOf(victim.c.id)).status).toBe('waiting');
  });

  test("hijack by In-Reply-To quoting the provider's Message-ID: the case is not changed", async () => {
    const victim = await victimCase('B');
    const before = await personsOf(victim.c.id);
    const out = await ingest(mailFrom('eve@evil.example', 'Re: anmälan', strangerPersons('B'), { inReplyTo: victim.messageId }).raw);
    await expectUntouched(victim.c.id, before);
    await expectRefused(out, victim, 'eve@evil.example');
  });

  test('hijack by subject, and by the same address with dmarc=fail: refused', async () => {
    const victim = await victimCase('C');
    const before = await personsOf(victim.c.id);
    // Another sender, same subject: sender + subject never joins another sender's case.
    const other = await ingest(mailFrom('eve@evil.example', `SV: ${victim.c.subject}`, strangerPersons('C')).raw);
    expect(other.caseId).not.toBe(victim.c.id);
    // The provider's own address forged: the trusted server says dmarc=fail.
    const forged = await ingest(
      mailFrom('maria.lund@attendo.se', `SV: ${victim.c.subject}`, strangerPersons('C'), { headers: [dmarcFail] }).raw,
    );
    expect(forged.caseId).not.toBe(victim.c.id);
    await expectUntouched(victim.c.id, before);
    const [m] = await db().select().from(messages).where(eq(messages.id, forged.messageRowId!));
    expect(m).toMatchObject({ authVerdict: 'fail' });
    const forgedCase = await caseOf(forged.caseId!);
    expect(forgedCase).toMatchObject({ senderVerified: false, refersToRef: victim.c.ref });
    // The real provider (verified) still completes its own case.
    const real = await ingest(
      mailFrom('maria.lund@attendo.se', `SV: ${victim.c.subject}`, [{ name: 'Johan StrömC', user: 'johstr' }], { headers: [pass] }).raw,
    );
    expect(real.caseId).toBe(victim.c.id);
    expect((await tasksOf(victim.c.id)).map((t) => [t.treservaUser, t.senderVerified])).toEqual([['johstr', true]]);
  });

  test('forged From: with dmarc=fail from the trusted authserv-id: unverified case, tasks marked, reply without personal data', async () => {
    const m = mailFrom(
      'boss@attendo.se',
      'Ny behörighet',
      [{ name: 'Falsk Person', function: 'Enhetschef', hsaId: hsaIdFor(501), user: 'falper' }],
      { headers: [dmarcFail] },
    );
    const out = await ingest(m.raw);
    const c = await caseOf(out.caseId!);
    expect(c).toMatchObject({ providerName: 'Attendo', knownProvider: true, senderVerified: false });
    const [t] = await tasksOf(c.id);
    expect(t).toMatchObject({ senderVerified: false, action: 'grant' });
    const replies = await repliesOf(c.id);
    expect(replies.map((r) => r.kind)).toEqual(['acknowledgement']);
    expect(replies[0]!.bodyText).not.toContain('Falsk');
    // Finishing needs the explicit, audited confirmation.
    await takeTask(db(), t!.id, 'user:anna');
    await expect(finishTask(db(), ctx.config, ctx.rules, t!.id, 'user:anna', null)).rejects.toMatchObject({
      code: 'CONFLICT',
      context: { reason: 'confirm-required' },
    });
    const done = await finishTask(db(), ctx.config, ctx.rules, t!.id, 'user:anna', null, new Date(), { confirmedWithProvider: true });
    expect(done.task).toMatchObject({ status: 'done', doneBy: 'anna', confirmedBy: 'anna' });
    expect(
      (
        await db()
          .select()
          .from(auditEvents)
          .where(and(eq(auditEvents.taskId, t!.id), eq(auditEvents.action, 'task.sender_confirmed')))
      ).length,
    ).toBe(1);
    // The done confirmation naming the person is not sent to the unverified address.
    const conf = (await repliesOf(c.id)).find((r) => r.kind === 'done_confirmation');
    expect(conf).toMatchObject({ status: 'suppressed', suppressReason: 'avsändaren är inte verifierad' });
  });

  test('a forged Authentication-Results (another authserv-id, or the trusted id below the real header) is ignored', async () => {
    const forgedOther = `Authentication-Results: evil.example; spf=pass smtp.mailfrom=attendo.se; dkim=pass header.d=attendo.se; dmarc=pass`;
    const forgedTrustedBelow = `Authentication-Results: ${AUTHSERV}; dkim=pass header.d=attendo.se; dmarc=pass`;
    const a = await ingest(
      mailFrom('boss@attendo.se', 'Forged A', [{ name: 'Falsk Ett', function: 'Chef', hsaId: hsaIdFor(502), user: 'falett' }], {
        headers: [forgedOther],
      }).raw,
    );
    expect(await caseOf(a.caseId!)).toMatchObject({ senderVerified: false });
    const [ma] = await db().select().from(messages).where(eq(messages.id, a.messageRowId!));
    expect(ma!.authVerdict).toBe('none');
    // Received from our server on top, its own verdict first; the sender's "pass" further down.
    const b = await ingest(
      mailFrom('boss@attendo.se', 'Forged B', [{ name: 'Falsk Två', function: 'Chef', hsaId: hsaIdFor(503), user: 'faltva' }], {
        headers: [dmarcFail, 'Received: from evil.example by mx.orebro.se', forgedTrustedBelow],
      }).raw,
    );
    const [mb] = await db().select().from(messages).where(eq(messages.id, b.messageRowId!));
    expect(mb!.authVerdict).toBe('fail');
    expect(await caseOf(b.caseId!)).toMatchObject({ senderVerified: false });
  });

  test('rejected case + later mail with its reference: no task in the rejected case, no value changed', async () => {
    const victim = await victimCase('D');
    await rejectCase(db(), victim.c.id, 'Inget avtal', 'user:anna');
    const before = await personsOf(victim.c.id);
    const later = await ingest(
      mailFrom('maria.lund@attendo.se', `SV: [${victim.c.ref}]`, [{ name: 'Johan StrömD', user: 'johstd' }], { headers: [pass] }).raw,
    );
    expect(later.caseId).not.toBe(victim.c.id);
    expect(await caseOf(victim.c.id)).toMatchObject({ status: 'rejected' });
    await expectUntouched(victim.c.id, before);
    const fresh = await personsOf(later.caseId!);
    expect(fresh[0]).toMatchObject({ status: 'needs_review', reviewReason: `hänvisar till ${victim.c.ref}, som är avvisat` });
    expect(await tasksOf(later.caseId!)).toHaveLength(0);
    // The server refuses edits the UI hides: a person in the rejected case.
    await expect(
      correctPerson(db(), ctx.rules, before[0]!.id, { treservaUser: 'x1' }, 'user:anna', new Date(), { caseId: victim.c.id }),
    ).rejects.toMatchObject({ code: 'CONFLICT' });
  });

  test('leaver mail ("har slutat, ta bort hennes behörighet") with all four fields: a removal task, no grant', async () => {
    const m = mailFrom(
      'maria.lund@attendo.se',
      'Lisa Berg har slutat',
      [{ name: 'Lisa Berg', function: 'Enhetschef', hsaId: hsaIdFor(600), user: 'lisber' }],
      {
        headers: [pass],
        text: 'Hej! Lisa Berg har slutat, ta bort hennes behörighet.',
      },
    );
    const out = await ingest(m.raw);
    const c = await caseOf(out.caseId!);
    // The reader marks her a leaver: the only task is a removal, and no receipt says access is being set up.
    const tasks = await tasksOf(c.id);
    expect(tasks).toEqual([expect.objectContaining({ action: 'revoke', name: 'Lisa Berg' })]);
    expect(tasks.some((t) => t.action === 'grant')).toBe(false);
    expect((await repliesOf(c.id)).filter((r) => r.kind === 'receipt')).toHaveLength(0);
  });

  test('a mail that speaks of a leaver while every person reads as a grant goes to review, never to a grant', async () => {
    // The phrase stands after the labelled person, about someone not named: the reader keeps Lisa a grant,
    // and the case steps' safety net holds her back for IT staff.
    const body = [
      'Hej!',
      '',
      personBlock({ name: 'Lisa Berg', function: 'Enhetschef', hsaId: hsaIdFor(601), user: 'lisber' }),
      '',
      'Vi har också en som har slutat, vi återkommer om henne.',
      '',
      'Mvh Maria',
    ].join('\n');
    const raw = Buffer.from(
      buildMail({ from: 'maria.lund@attendo.se', subject: 'Behörighet', messageId: msgId('t', 'attendo.se'), body, headers: [pass] }),
    );
    const out = await ingest(raw);
    const c = await caseOf(out.caseId!);
    expect(await tasksOf(c.id)).toHaveLength(0);
    const [p] = await personsOf(c.id);
    expect(p).toMatchObject({ status: 'needs_review' });
    expect(p!.reviewReason).toMatch(/har slutat/);
    // IT staff decide: marked a removal, it becomes a removal task, never a grant.
    const fixed = await correctPerson(db(), ctx.rules, p!.id, {}, 'user:anna', new Date(), { caseId: c.id, intent: 'revoke' });
    expect(fixed.tasksCreated).toHaveLength(1);
    expect(await tasksOf(c.id)).toEqual([expect.objectContaining({ action: 'revoke', hsaId: p!.hsaId })]);
  });

  test('case steps: a revoke record becomes a removal task with a removal receipt, and cancels the open grant task (audited)', async () => {
    const hsa = hsaIdFor(700);
    const grant = await ingest(
      mailFrom('maria.lund@attendo.se', 'Ny: Kalle', [{ name: 'Kalle Ek', function: 'Planerare', hsaId: hsa, user: 'kallek' }], {
        headers: [pass],
      }).raw,
    );
    const [grantTask] = await tasksOf(grant.caseId!);
    expect(grantTask).toMatchObject({ action: 'grant', status: 'open' });
    // What the parser gives once it marks leavers (intent per person): run through the case steps.
    const raw = mailFrom('maria.lund@attendo.se', 'Kalle har slutat', [], { headers: [pass], text: 'Kalle Ek har slutat.' }).raw;
    const mail = await readMail(raw);
    const record: PersonRecord = { name: 'Kalle Ek', function: null, hsaId: hsa, treservaUser: null, intent: 'revoke', problems: [] };
    const result = await db().transaction(async (tx) => {
      const [msg] = await tx
        .insert(messages)
        .values({
          source: 'ingest',
          contentHash: crypto.randomUUID(),
          raw,
          size: raw.length,
          kind: 'notification',
          status: 'processed',
          fromAddr: mail.from,
          subject: mail.subject,
        })
        .returning({ id: messages.id });
      return handleNotification(tx, ctx, {
        mail,
        text: mail.text,
        records: [record],
        standing: senderStanding(ctx.rules, mail.from, 'pass'),
        messageRowId: msg!.id,
        now: new Date(),
      });
    });
    const [removal] = await tasksOf(result.caseId!);
    expect(removal).toMatchObject({ action: 'revoke', hsaId: hsa, name: 'Kalle Ek', status: 'open', senderVerified: true });
    expect((await db().select().from(tasks).where(eq(tasks.id, grantTask!.id)))[0]!.status).toBe('cancelled');
    const cancelled = await db()
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.taskId, grantTask!.id), eq(auditEvents.action, 'task.cancelled')));
    expect(cancelled[0]!.after).toMatchObject({ reason: `borttagning begärd (uppgift ${removal!.id})` });
    const replies = await repliesOf(result.caseId!);
    expect(replies.map((r) => r.kind)).toEqual(['removal_receipt']);
    expect(replies[0]!.bodyText).toContain('ska tas bort');
    expect(replies[0]!.bodyText).toContain('Kalle Ek');
    expect(replies[0]!.bodyText).not.toContain('lägger nu upp');
    // Listed apart and first: `tasks --json` carries the action.
    const listed = (await tasksListing(db())).items;
    expect(listed.find((t) => t.id === removal!.id)).toMatchObject({ action: 'revoke', senderVerified: true });
    expect(detectIntent('Lisa Berg har slutat, ta bort hennes behörighet', loadRules(DEFAULT_RULES_DIR))).toBe('revoke');
    expect(detectIntent('Lisa Berg har fått sitt SITHS-kort', loadRules(DEFAULT_RULES_DIR))).toBe('grant');
  });

  test('tasks have one owner: a stale take is refused, only the taker finishes or gives back, four-eyes', async () => {
    const m = mailFrom('maria.lund@attendo.se', 'Ny: Bo', [{ name: 'Bo Ek', function: 'Planerare', hsaId: hsaIdFor(800), user: 'boek' }], {
      headers: [pass],
    });
    const out = await ingest(m.raw);
    const [t] = await tasksOf(out.caseId!);
    await takeTask(db(), t!.id, 'user:anna');
    // Erik's board still shows the task open: his take is refused and names Anna.
    await expect(takeTask(db(), t!.id, 'user:erik')).rejects.toMatchObject({
      code: 'CONFLICT',
      context: { reason: 'taken-by-other', assignee: 'anna' },
    });
    await expect(finishTask(db(), ctx.config, ctx.rules, t!.id, 'user:erik', null)).rejects.toMatchObject({
      context: { reason: 'not-yours' },
    });
    await expect(releaseTask(db(), t!.id, 'user:erik')).rejects.toMatchObject({ context: { reason: 'not-yours' } });
    // Two at once: exactly one take wins.
    await releaseTask(db(), t!.id, 'user:anna');
    const race = await Promise.allSettled([takeTask(db(), t!.id, 'user:anna'), takeTask(db(), t!.id, 'user:erik')]);
    expect(race.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const winner = (race.find((r) => r.status === 'fulfilled') as PromiseFulfilledResult<{ assignee: string | null }>).value.assignee!;
    const done = await finishTask(db(), ctx.config, ctx.rules, t!.id, `user:${winner}`, null);
    expect(done.task).toMatchObject({ status: 'done', doneBy: winner, assignee: winner });

    // Four eyes: who corrected the values may not finish the task.
    const fourEyes = { ...ctx.config, taskFourEyes: true };
    const bad = await ingest(
      mailFrom('maria.lund@attendo.se', 'Ny: Cia', [{ name: 'Cia Ek', function: 'Planerare', hsaId: hsaIdFor(801), user: 'cia ek' }], {
        headers: [pass],
      }).raw,
    );
    const [p] = await personsOf(bad.caseId!);
    await correctPerson(db(), ctx.rules, p!.id, { treservaUser: 'ciaek' }, 'user:anna', new Date(), { caseId: bad.caseId! });
    const [t2] = await tasksOf(bad.caseId!);
    expect(t2!.correctedBy).toEqual(['anna']);
    await takeTask(db(), t2!.id, 'user:anna');
    await expect(finishTask(db(), fourEyes, ctx.rules, t2!.id, 'user:anna', null)).rejects.toMatchObject({
      context: { reason: 'four-eyes' },
    });
    await releaseTask(db(), t2!.id, 'user:anna');
    await takeTask(db(), t2!.id, 'user:erik');
    await expect(finishTask(db(), fourEyes, ctx.rules, t2!.id, 'user:erik', null)).resolves.toMatchObject({ task: { doneBy: 'erik' } });
  });

  test('caps: persons per mail and per case go to review; a reply over REPLY_MAX_BYTES becomes the neutral acknowledgement', async () => {
    const many = Array.from({ length: 51 }, (_, i) => ({
      name: `Person Nummer${String.fromCharCode(65 + (i % 26))}${String.fromCharCode(65 + Math.floor(i / 26))}`,
      function: 'Planerare',
      hsaId: hsaIdFor(900 + i),
      user: `pn${i}`,
    }));
    const over = await ingest(mailFrom('okand@example.org', 'Lista', many).raw);
    expect(over).toMatchObject({ status: 'review', folder: 'review', caseId: null });
    const [m] = await db().select().from(messages).where(eq(messages.id, over.messageRowId!));
    expect(m!.reviewReason).toBe('för många personer i ett mejl (51, gräns 50)');
    expect(await db().select().from(tasks).where(eq(tasks.hsaId, many[0]!.hsaId))).toHaveLength(0);

    const small = { ...ctx, config: { ...ctx.config, caps: { personsPerMail: 3, personsPerCase: 3 } } };
    const first = await ingest(
      mailFrom(
        'maria.lund@attendo.se',
        'Tre',
        many.slice(10, 12).map((p) => ({ name: p.name, function: p.function })),
        { headers: [pass] },
      ).raw,
      small,
    );
    const more = await ingest(
      mailFrom(
        'maria.lund@attendo.se',
        'SV: Tre',
        many.slice(12, 14).map((p) => ({ name: p.name, function: p.function })),
        { headers: [pass] },
      ).raw,
      small,
    );
    expect(more).toMatchObject({ status: 'review', caseId: null });
    expect(await personsOf(first.caseId!)).toHaveLength(2);

    const tiny = { ...ctx, config: { ...ctx.config, replies: { ...ctx.config.replies, maxBytes: 1024 } } };
    const big = await ingest(
      mailFrom(
        'maria.lund@attendo.se',
        'Många',
        many.slice(20, 40).map((p) => ({ name: p.name, function: p.function, hsaId: hsaIdFor(2000 + Number(p.user.slice(2))) })),
        { headers: [pass] },
      ).raw,
      tiny,
    );
    expect((await repliesOf(big.caseId!)).map((r) => r.kind)).toEqual(['acknowledgement']);
  });

  test('personnummer in every field (any dash) is masked when stored, shown and replied; invisible characters refused', async () => {
    const text = 'Personnummer 19800101–1234 och 800101-5678 och 198001011234.';
    const m = mailFrom(
      'maria.lund@attendo.se',
      'Pnr',
      [{ name: '19800101-1234', function: '800101–1234', hsaId: '19800101\u20131234', user: '8001011234' }],
      { headers: [pass], text },
    );
    const out = await ingest(m.raw);
    const [p] = await personsOf(out.caseId!);
    for (const v of [p!.name, p!.function, p!.hsaId, p!.treservaUser]) expect(v ?? '').not.toMatch(/1234|5678/);
    expect(p!.problems.map((x) => x.field).sort()).toEqual(['function', 'hsaId', 'name', 'treservaUser']);
    const [msg] = await db().select().from(messages).where(eq(messages.id, out.messageRowId!));
    expect(msg!.bodyText).toContain('19800101-****');
    expect(msg!.bodyText).not.toMatch(/1234|5678/);
    const replies = await repliesOf(out.caseId!);
    expect(replies).toHaveLength(1);
    expect(replies[0]!.bodyText).not.toMatch(/1234|5678|800101/);
    // Exports: masked and formula-safe, every line of a multi-line value.
    expect(csvCell('ok\n=HYPERLINK("x")\n+1')).toBe('ok\n\'=HYPERLINK("x")\n\'+1');
    expect(csvCell('19800101-1234')).toBe('19800101-****');
    expect(maskPersonnummerInText('SE2321000016-4HK5 och SE5565594230-B31 och SE5501662992-TLX och 019-21 10 00')).toBe(
      'SE2321000016-4HK5 och SE5565594230-B31 och SE5501662992-TLX och 019-21 10 00',
    );
    expect(maskPersonnummerInText('Lisa19800101\u20141234, 800101+1234, 20800161 1234')).toBe(
      'Lisa19800101-****, 800101-****, 20800161-****',
    );

    const rules = ctx.rules;
    const base: PersonRecord = {
      name: 'Lisa Berg',
      function: 'Chef',
      hsaId: 'SE2321000016-4HK5',
      treservaUser: 'lisber',
      intent: 'grant',
      problems: [],
    };
    for (const [field, value] of [
      ['name', 'Lisa\u200bBerg'],
      ['name', 'Lisa \u202eBerg'],
      ['treservaUser', 'lis\u2066ber'],
      ['treservaUser', 'lisbär'],
      ['treservaUser', 'lis;ber'],
    ] as const) {
      const r = sanitizeRecord({ ...base, [field]: value }, rules);
      expect(r.problems.map((x) => [x.field, x.code])).toEqual([[field, 'invalid']]);
      expect(r[field]).not.toMatch(/[\u200b\u202e\u2066]/);
    }
  });

  test('HSA-id under another organisation number is flagged for IT staff; Inera ids pass', async () => {
    const out = await ingest(
      mailFrom(
        'maria.lund@attendo.se',
        'Org',
        [
          { name: 'Egen Person', function: 'Chef', hsaId: 'SE5565594230-OWN1', user: 'egenp' },
          { name: 'Inera Person', function: 'Chef', hsaId: 'SE2321000016-INE1', user: 'inerap' },
          { name: 'Annan Person', function: 'Chef', hsaId: hsaIdFor(42, 'O'), user: 'annanp' },
        ],
        { headers: [pass] },
      ).raw,
    );
    const ps = await personsOf(out.caseId!);
    expect(ps.map((p) => p.hsaNote === null)).toEqual([true, true, false]);
    expect(ps[2]!.hsaNote).toMatch(/^HSA-id hör till organisationsnummer \d{6}-\d{4}, inte till Attendo$/);
    expect((await tasksOf(out.caseId!))[2]!.hsaNote).toBe(ps[2]!.hsaNote);
  });

  test('replies with personal data only to verified senders; victim+1@, victim+2@ count as one recipient; cases --json has senderVerified', async () => {
    const unverified = await ingest(
      mailFrom('anna@omsorgshuset.se', 'Osignerad', [{ name: 'Ulla Ek', function: 'Chef', hsaId: hsaIdFor(1500) }]).raw,
    );
    expect((await repliesOf(unverified.caseId!)).map((r) => r.kind)).toEqual(['acknowledgement']);
    const listed = (await casesListing(db())).items;
    expect(listed.find((c) => c.ref === listed.find((x) => x.subject === 'Osignerad')!.ref)).toMatchObject({
      senderVerified: false,
      knownProvider: true,
    });
    expect(listed.some((c) => c.senderVerified === true)).toBe(true);

    expect(mailboxKey('Victim+1@Example.org')).toBe('victim@example.org');
    const limited = { ...ctx, config: { ...ctx.config, replies: { ...ctx.config.replies, maxPerRecipientPerHour: 2 } } };
    const outs = [];
    for (let i = 1; i <= 4; i++)
      outs.push(
        await ingest(
          mailFrom(`victim+${i}@example.org`, `Plus ${i}`, [{ name: `Plus Person${String.fromCharCode(64 + i)}`, function: 'Chef' }]).raw,
          limited,
        ),
      );
    const statuses = [];
    for (const o of outs) statuses.push(...(await repliesOf(o.caseId!)).map((r) => r.status));
    expect(statuses).toEqual(['pending', 'pending', 'suppressed', 'suppressed']);
  });

  test('ids must belong together: a reply or person of another case is refused', async () => {
    const a = await victimCase('E');
    const b = await victimCase('F');
    const [pa] = await personsOf(a.c.id);
    await expect(
      correctPerson(db(), ctx.rules, pa!.id, { treservaUser: 'xx1' }, 'user:anna', new Date(), { caseId: b.c.id }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const [ra] = await repliesOf(a.c.id);
    await expect(holdReply(db(), ra!.id, 'user:anna', new Date(), b.c.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect((await repliesOf(a.c.id))[0]!.status).toBe(ra!.status);
  });
});

describe('DKIM verified here (mailauth) on real signatures, with a resolver serving the test key', () => {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const p = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  const lookups: string[] = [];
  const resolver = async (name: string, rrtype: string) => {
    lookups.push(`${rrtype} ${name}`);
    if (rrtype === 'TXT' && name === 't1._domainkey.attendo.se') return [[`v=DKIM1; k=rsa; p=${p}`]];
    if (rrtype === 'TXT' && name === '_dmarc.attendo.se') return [['v=DMARC1; p=reject']];
    throw Object.assign(new Error(`no ${rrtype} for ${name}`), { code: 'ENOTFOUND' });
  };
  const opts = { trustedAuthservId: undefined, timeoutMs: 5000, resolver };

  async function signed(from: string): Promise<Buffer> {
    const raw = Buffer.from(
      buildMail({ from, subject: 'Signerad', messageId: msgId('s', 'attendo.se'), body: 'Namn: Lisa Berg\nFunktion: Chef\n' }),
    );
    const sig = await dkimSign(raw, {
      signingDomain: 'attendo.se',
      selector: 't1',
      privateKey: pem,
      canonicalization: 'relaxed/relaxed',
      signatureData: [{ signingDomain: 'attendo.se', selector: 't1', privateKey: pem }],
    });
    expect(sig.signatures).toMatch(/^DKIM-Signature: /);
    expect(sig.errors).toEqual([]);
    return Buffer.concat([Buffer.from(sig.signatures), raw]);
  }

  test('a valid signature aligned with From: passes; a changed body fails; unsigned is none without any lookup', async () => {
    const good = await signed('maria.lund@attendo.se');
    expect(await authenticateSender(good, await readMail(good), opts)).toMatchObject({ verdict: 'pass' });
    const tampered = Buffer.from(good.toString('utf8').replace('Lisa Berg', 'Eve Berg'));
    expect(await authenticateSender(tampered, await readMail(tampered), opts)).toMatchObject({ verdict: 'fail' });
    lookups.length = 0;
    const unsigned = Buffer.from(
      buildMail({ from: 'maria.lund@attendo.se', subject: 'x', messageId: msgId('u', 'attendo.se'), body: 'x' }),
    );
    expect(await authenticateSender(unsigned, await readMail(unsigned), opts)).toMatchObject({ verdict: 'none' });
    expect(lookups).toEqual([]);
  });

  test('through the pipeline: a signed mail makes a verified case; with a trusted authserv-id its header wins', async () => {
    const tdb = await openTestDatabase('pglite');
    try {
      const ctx = testContext(tdb.database, {}, { resolver });
      const good = await signed('maria.lund@attendo.se');
      const o = await ingestRaw(ctx, good, { kind: 'ingest' });
      const [c] = await tdb.database.db.select().from(cases).where(eq(cases.id, o.caseId!));
      expect(c).toMatchObject({ senderVerified: true, providerName: 'Attendo' });
      const [m] = await tdb.database.db.select().from(messages).where(eq(messages.id, o.messageRowId!));
      expect(m).toMatchObject({ authVerdict: 'pass' });
      expect(m!.authDetail).toMatch(/dkim=pass/);
      // A DKIM-valid mail the trusted server judged fail: the server's verdict counts.
      const mail = await readMail(Buffer.concat([Buffer.from(`${dmarcFail}\r\n`), good]));
      expect(trustedAuthResults(mail.headers, AUTHSERV)).not.toBeNull();
      expect((await authenticateSender(good, mail, { ...opts, trustedAuthservId: AUTHSERV })).verdict).toBe('fail');
    } finally {
      await tdb.cleanup();
    }
  });
});
