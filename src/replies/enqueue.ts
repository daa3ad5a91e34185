import crypto from 'node:crypto';
import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Config } from '../config';
import type { DbOrTx } from '../db/client';
import { outbox, type OutboxKind, type OutboxStatus } from '../db/schema';

export interface ReplyDraft {
  caseId: number;
  kind: OutboxKind;
  /** What this answers ("message:12", "task:7"): one reply of a kind per trigger, ever. */
  triggerKey: string;
  to: string;
  subject: string;
  body: string;
  inReplyTo: string | null;
  references: string[];
  /** Held replies wait for IT staff to send them. */
  hold?: boolean;
  /** Set when policy says this reply must not go out (recorded, never sent unless staff send it anyway). */
  suppressReason?: string;
  /**
   * An automatic answer to an incoming mail (trigger `message:<id>`): only these are rate-limited
   * and counted, the guard against mail loops. Replies that staff actions trigger are neither.
   */
  automatic?: boolean;
  /** Not sent before this (a done confirmation waiting for more tasks of its case). */
  notBefore?: Date;
}

/** Rows that count against the rate limits: automatic answers to incoming mail. */
export const AUTOMATIC_TRIGGER = 'message:%';

/** One mailbox however it is tagged: `victim+1@x.se` and `Victim@x.se` are `victim@x.se` (per-recipient limit). */
export function mailboxKey(address: string): string {
  return address.toLowerCase().replace(/[+][^@]*@/, '@');
}

export function newMessageId(mailFrom: string): string {
  const domain = mailFrom.split('@')[1] ?? 'localhost';
  return `<lci-${crypto.randomUUID()}@${domain}>`;
}

/**
 * Writes a reply to the outbox inside the caller's transaction. For automatic answers to incoming
 * mail, rate limits per case (per day) and per recipient (per hour) turn the reply into a recorded,
 * unsent `suppressed` row (staff may still send it: "Skicka ändå").
 * Returns null when this trigger already has a reply (never answer twice).
 */
export async function enqueueReply(
  tx: DbOrTx,
  draft: ReplyDraft,
  config: Config,
  now: Date,
): Promise<{ id: number; status: OutboxStatus } | null> {
  let status: OutboxStatus = draft.suppressReason ? 'suppressed' : draft.hold ? 'held' : 'pending';
  let suppressReason = draft.suppressReason ?? null;
  if (status === 'pending' && (draft.automatic ?? draft.triggerKey.startsWith('message:'))) {
    // Both rate limits in one statement, over automatic answers only; each count uses its own index (case + time, mailbox + time).
    const counted = sql`${outbox.status} in ('pending', 'sending', 'sent', 'held') and ${outbox.triggerKey} like ${AUTOMATIC_TRIGGER}`;
    const dayAgo = new Date(now.getTime() - 86_400_000).toISOString();
    const hourAgo = new Date(now.getTime() - 3_600_000).toISOString();
    const [counts] = await tx
      .select({
        perCase: sql<number>`(select count(*)::int from ${outbox} where ${outbox.caseId} = ${draft.caseId} and ${counted} and ${outbox.createdAt} >= ${dayAgo}::timestamptz)`,
        perRecipient: sql<number>`(select count(*)::int from ${outbox} where regexp_replace(lower(${outbox.toAddr}), '[+][^@]*@', '@') = ${mailboxKey(draft.to)} and ${counted} and ${outbox.createdAt} >= ${hourAgo}::timestamptz)`,
      })
      .from(sql`(select 1) as one`);
    const perCase = { n: Number(counts?.perCase ?? 0) };
    const perRecipient = { n: Number(counts?.perRecipient ?? 0) };
    if ((perCase?.n ?? 0) >= config.replies.maxPerCasePerDay) suppressReason = 'rate-limit-case';
    else if ((perRecipient?.n ?? 0) >= config.replies.maxPerRecipientPerHour) suppressReason = 'rate-limit-recipient';
    if (suppressReason) status = 'suppressed';
  }
  const rows = await tx
    .insert(outbox)
    .values({
      caseId: draft.caseId,
      kind: draft.kind,
      triggerKey: draft.triggerKey,
      toAddr: draft.to,
      subject: draft.subject,
      bodyText: draft.body,
      messageId: newMessageId(config.mailFrom),
      inReplyTo: draft.inReplyTo,
      references: draft.references,
      status,
      suppressReason,
      createdAt: now,
      nextAttemptAt: draft.notBefore && draft.notBefore > now ? draft.notBefore : now,
    })
    .onConflictDoNothing({ target: [outbox.kind, outbox.triggerKey] })
    .returning({ id: outbox.id, status: outbox.status });
  return rows[0] ?? null;
}

/** A request for data (or a reminder) not yet sent when the case no longer waits for data is withdrawn (kept, not sent). */
export async function withdrawStaleRequests(tx: DbOrTx, caseId: number): Promise<number> {
  const rows = await tx
    .update(outbox)
    .set({ status: 'suppressed', suppressReason: 'ärendet väntar inte längre på uppgifter' })
    .where(
      and(
        eq(outbox.caseId, caseId),
        inArray(outbox.kind, ['missing_info', 'still_missing', 'reminder']),
        inArray(outbox.status, ['pending', 'held']),
      ),
    )
    .returning({ id: outbox.id });
  return rows.length;
}
