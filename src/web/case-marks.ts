import { and, count, eq, inArray, isNotNull } from 'drizzle-orm';
import type { Config } from '../config';
import type { Db } from '../db/client';
import { cases, messages, outbox } from '../db/schema';
import { suppressReason } from './labels';

/**
 * What marks a case in the list and on its page: new provider messages waiting in Att granska,
 * bounced replies, and "utföraren svarar inte" after the reminders went unanswered. Also the
 * Swedish words for why a reply was held back (never a raw code).
 */

export interface CaseMarks {
  newMessages: number;
  bounces: number;
  providerSilentSince: Date | null;
  remindersSent: number;
}

export async function caseMarks(db: Db, ids: number[]): Promise<Map<number, CaseMarks>> {
  const out = new Map<number, CaseMarks>();
  if (ids.length === 0) return out;
  const [fresh, bounced, flags] = await Promise.all([
    db
      .select({ caseId: messages.caseId, n: count() })
      .from(messages)
      .where(and(inArray(messages.caseId, ids), eq(messages.status, 'review')))
      .groupBy(messages.caseId),
    db
      .select({ caseId: outbox.caseId, n: count() })
      .from(outbox)
      .where(and(inArray(outbox.caseId, ids), isNotNull(outbox.bounce)))
      .groupBy(outbox.caseId),
    db.select({ id: cases.id, since: cases.providerSilentSince, reminders: cases.remindersSent }).from(cases).where(inArray(cases.id, ids)),
  ]);
  for (const f of flags) out.set(f.id, { newMessages: 0, bounces: 0, providerSilentSince: f.since, remindersSent: f.reminders });
  for (const m of fresh) if (m.caseId != null && out.has(m.caseId)) out.get(m.caseId)!.newMessages = m.n;
  for (const b of bounced) if (out.has(b.caseId)) out.get(b.caseId)!.bounces = b.n;
  return out;
}

/** Why a reply is held back, in Swedish: "rate-limit-case" is a code, not something to show. */
export function heldBackReason(reason: string | null, status: string, config: Config): string | null {
  if (status === 'held' && !reason) return 'hålls inne av personal';
  if (!reason) return null;
  if (reason === 'rate-limit-case')
    return `ärendet har fått så många automatiska svar som tillåts per dygn (${config.replies.maxPerCasePerDay}); gränsen skyddar mot mejlslingor`;
  if (reason === 'rate-limit-recipient')
    return `mottagaren har fått så många automatiska svar som tillåts per timme (${config.replies.maxPerRecipientPerHour}); gränsen skyddar mot mejlslingor`;
  return suppressReason(reason);
}
