import { createRequire } from 'node:module';
import type Holidays from 'date-holidays';
import { and, asc, desc, eq, inArray, isNull } from 'drizzle-orm';
import { audit } from '../audit';
import type { AppContext } from '../context';
import { cases, messages, outbox, persons } from '../db/schema';
import { composeReminder } from '../replies/compose';
import { enqueueReply } from '../replies/enqueue';
import { subjectInfo } from '../parse/thread';
import { caseThreading, personalBlock } from './replies';

/**
 * Reminders. A case waiting for the provider gets a reminder REMINDER_AFTER_DAYS working days
 * after our last request (or reminder) went out with no mail from the provider since, at most
 * REMINDER_MAX times; after that many, the same wait again flags it for IT staff ("utföraren
 * svarar inte"). Working days are Monday to Friday except Swedish public holidays and the eves
 * that are days off in practice (julafton, midsommarafton, nyårsafton), from date-holidays. A mail
 * from the provider starts the count again and lifts the flag. Reminders name persons, so they go
 * only where replies may (REPLY_PERSONAL_DATA); a case that may not get one is flagged instead.
 */

/** date-holidays brings every country's calendar (~20 MB): loaded on the first working-day question, not at start. */
let holidays: Holidays | null = null;
function swedishHolidays(): Holidays {
  if (!holidays) {
    const Loaded = createRequire(__filename)('date-holidays') as typeof Holidays;
    holidays = new Loaded('SE', { types: ['public', 'bank'] });
  }
  return holidays;
}
const ZONE = 'Europe/Stockholm';
const dayFormat = new Intl.DateTimeFormat('en-CA', { timeZone: ZONE, year: 'numeric', month: '2-digit', day: '2-digit' });

/** The Swedish calendar date of an instant, as YYYY-MM-DD. */
export const swedishDay = (d: Date): string => dayFormat.format(d);

/** Whether a calendar date (YYYY-MM-DD) is a working day in Sweden. */
export function isWorkingDay(day: string): boolean {
  const noon = new Date(`${day}T12:00:00Z`);
  const weekday = noon.getUTCDay();
  if (weekday === 0 || weekday === 6) return false;
  const hits = swedishHolidays().isHoliday(new Date(`${day}T12:00:00Z`)) || [];
  return !hits.some((h) => h.type === 'public' || h.type === 'bank');
}

/** Working days after `from`'s date up to and including `to`'s date. */
export function workingDaysBetween(from: Date, to: Date): number {
  const end = swedishDay(to);
  let day = swedishDay(from);
  let n = 0;
  for (let i = 0; i < 3660 && day < end; i++) {
    const next = new Date(`${day}T12:00:00Z`);
    next.setUTCDate(next.getUTCDate() + 1);
    day = next.toISOString().slice(0, 10);
    if (isWorkingDay(day)) n++;
  }
  return n;
}

const ASKS = ['missing_info', 'still_missing', 'reminder'] as const;

/** One pass over the waiting cases (the worker runs it on REMINDER_CRON). Returns what it did. */
export async function runReminders(ctx: AppContext): Promise<{ reminded: number; flagged: number }> {
  const db = ctx.database.db;
  const now = ctx.now();
  const { afterDays, max } = ctx.config.reminders;
  const waiting = await db
    .select({ id: cases.id })
    .from(cases)
    .where(and(eq(cases.status, 'waiting'), isNull(cases.erasedAt), isNull(cases.providerSilentSince)))
    .orderBy(asc(cases.id))
    .limit(10_000);
  let reminded = 0;
  let flagged = 0;
  for (const { id } of waiting) {
    const done = await db.transaction(async (tx) => {
      const [c] = await tx.select().from(cases).where(eq(cases.id, id)).for('update');
      if (!c || c.status !== 'waiting' || c.providerSilentSince || !c.sender) return null;
      const [lastMail] = await tx
        .select({ at: messages.receivedAt, id: messages.id })
        .from(messages)
        .where(and(eq(messages.caseId, c.id), eq(messages.fromAddr, c.sender)))
        .orderBy(desc(messages.receivedAt))
        .limit(1);
      const asks = await tx
        .select({ kind: outbox.kind, sentAt: outbox.sentAt })
        .from(outbox)
        .where(and(eq(outbox.caseId, c.id), inArray(outbox.kind, [...ASKS]), eq(outbox.status, 'sent')))
        .orderBy(asc(outbox.sentAt));
      const since = lastMail?.at ?? c.createdAt;
      const after = asks.filter((a) => a.sentAt && a.sentAt >= since);
      // The clock runs from our last request or reminder (the provider's last mail when we sent none).
      const lastAsk = after.length ? after[after.length - 1]!.sentAt! : since;
      if (workingDaysBetween(lastAsk, now) < afterDays) return null;
      const sentReminders = after.filter((a) => a.kind === 'reminder').length;
      const blocked = personalBlock(ctx, c);
      if (sentReminders < max && !blocked && after.length > 0) {
        const thread = await caseThreading(tx, c);
        const all = await tx.select().from(persons).where(eq(persons.caseId, c.id)).orderBy(persons.id);
        const composed = composeReminder(
          {
            ref: c.ref,
            subject: subjectInfo(c.subject).base,
            mailbox: ctx.config.mailFrom,
            contact: ctx.config.replies.contact,
            persons: all.filter((p) => p.status === 'incomplete'),
            accepted: all.filter((p) => p.status === 'task_created' || p.status === 'complete'),
            asked: after[0]!.sentAt!,
          },
          ctx.rules,
        );
        const row = await enqueueReply(
          tx,
          {
            caseId: c.id,
            kind: 'reminder',
            triggerKey: `reminder:${c.id}:${lastMail?.id ?? 0}:${sentReminders + 1}`,
            ...thread!,
            subject: composed.subject,
            body: composed.body,
            automatic: false,
          },
          ctx.config,
          now,
        );
        if (!row) return null;
        await tx
          .update(cases)
          .set({ remindersSent: sentReminders + 1 })
          .where(eq(cases.id, c.id));
        await audit(
          tx,
          { actor: 'worker', action: 'reply.reminder', caseId: c.id, after: { outboxId: row.id, n: sentReminders + 1 } },
          now,
        );
        return 'reminded' as const;
      }
      await tx.update(cases).set({ providerSilentSince: now }).where(eq(cases.id, c.id));
      await audit(
        tx,
        { actor: 'worker', action: 'case.provider_silent', caseId: c.id, after: { reminders: sentReminders, reason: blocked ?? null } },
        now,
      );
      return 'flagged' as const;
    });
    if (done === 'reminded') reminded++;
    if (done === 'flagged') flagged++;
  }
  if (reminded || flagged) ctx.log.child({ component: 'reminders' }).info({ reminded, flagged }, 'reminders run');
  return { reminded, flagged };
}
