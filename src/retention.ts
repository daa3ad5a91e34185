import { and, eq, inArray, isNull, lt, or } from 'drizzle-orm';
import { audit } from './audit';
import type { AppContext } from './context';
import { eraseParts } from './db/raw';
import { auditEvents, cases, messages, outbox, persons, tasks } from './db/schema';

/**
 * Retention rule (GDPR): once a case has been done or rejected for RETENTION_DAYS, its personal data
 * is erased — raw mail, mail text, names, HSA-ids, usernames, reply texts and audit values. What
 * remains (reference, dates, statuses, counts) keeps the history. Mail outside any case (automated,
 * settled) is erased after the same time.
 */
export async function applyRetention(ctx: AppContext): Promise<{ cases: number; messages: number }> {
  const days = ctx.config.retentionDays;
  if (days <= 0) return { cases: 0, messages: 0 };
  const { db } = ctx.database;
  const now = ctx.now();
  const before = new Date(now.getTime() - days * 86_400_000);
  const empty = Buffer.alloc(0);

  const old = await db
    .select({ id: cases.id })
    .from(cases)
    .where(and(inArray(cases.status, ['done', 'rejected']), lt(cases.updatedAt, before), isNull(cases.erasedAt)))
    .limit(1000);
  for (const { id } of old) {
    await db.transaction(async (tx) => {
      const erased = await tx
        .update(messages)
        .set({ raw: empty, bodyText: '', parsed: null, subject: '', erasedAt: now })
        .where(eq(messages.caseId, id))
        .returning({ id: messages.id });
      await eraseParts(
        tx,
        erased.map((m) => m.id),
      );
      await tx
        .update(persons)
        .set({ name: null, hsaId: null, treservaUser: null, problems: [], reviewReason: null })
        .where(eq(persons.caseId, id));
      const ts = await tx.select({ id: tasks.id }).from(tasks).where(eq(tasks.caseId, id));
      for (const t of ts)
        await tx
          .update(tasks)
          .set({ name: '', hsaId: `RADERAD-${t.id}`, treservaUser: '', note: null })
          .where(eq(tasks.id, t.id));
      await tx.update(outbox).set({ bodyText: '', subject: '' }).where(eq(outbox.caseId, id));
      await tx.update(auditEvents).set({ before: null, after: null }).where(eq(auditEvents.caseId, id));
      await tx.update(cases).set({ subject: '', threadSubject: '', erasedAt: now }).where(eq(cases.id, id));
      await audit(tx, { actor: 'worker', action: 'case.erased', caseId: id, after: { retentionDays: days } }, now);
    });
  }
  // One transaction: a mail marked erased has no pieces left (the next run would not look at it again).
  const loose = await db.transaction(async (tx) => {
    const erased = await tx
      .update(messages)
      .set({ raw: empty, bodyText: '', parsed: null, subject: '', erasedAt: now })
      .where(
        and(
          isNull(messages.caseId),
          isNull(messages.erasedAt),
          lt(messages.receivedAt, before),
          or(eq(messages.status, 'ignored'), eq(messages.status, 'settled')),
        ),
      )
      .returning({ id: messages.id });
    await eraseParts(
      tx,
      erased.map((m) => m.id),
    );
    return erased;
  });
  if (old.length || loose.length)
    ctx.log.info({ component: 'retention', cases: old.length, messages: loose.length, days }, 'personal data erased by the retention rule');
  return { cases: old.length, messages: loose.length };
}
