import crypto from 'node:crypto';
import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Config } from '../config';
import type { DbOrTx } from '../db/client';
import { outbox, type OutboxKind, type OutboxStatus } from '../db/schema';
import { AUTOMATIC_TRIGGER, CaseStore, WITHDRAWN } from '../cases/store';

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
  tx: DbOrTx | CaseStore,
  draft: ReplyDraft,
  config: Config,
  now: Date,
): Promise<{ id: number; status: OutboxStatus } | null> {
  let status: OutboxStatus = draft.suppressReason ? 'suppressed' : draft.hold ? 'held' : 'pending';
  let suppressReason = draft.suppressReason ?? null;
  const limited = status === 'pending' && (draft.automatic ?? draft.triggerKey.startsWith('message:'));
  // Intake's batches: the store answers from what it holds and writes the row with the batch.
  const store = tx instanceof CaseStore ? tx : null;
  if (store && (await store.triggerTaken(draft.kind, draft.triggerKey))) return null;
  if (limited) {
    const counts = store ? await store.replyCounts(draft.caseId, mailboxKey(draft.to), now) : await countReplies(tx as DbOrTx, draft, now);
    if (counts.perCase >= config.replies.maxPerCasePerDay) suppressReason = 'rate-limit-case';
    else if (counts.perRecipient >= config.replies.maxPerRecipientPerHour) suppressReason = 'rate-limit-recipient';
    if (suppressReason) status = 'suppressed';
  }
  const values = {
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
  };
  if (store) return store.insertReply(values, mailboxKey(draft.to), now);
  const rows = await (tx as DbOrTx)
    .insert(outbox)
    .values(values)
    .onConflictDoNothing({ target: [outbox.kind, outbox.triggerKey] })
    .returning({ id: outbox.id, status: outbox.status });
  return rows[0] ?? null;
}

/** Both rate limits in one statement, over automatic answers only; each count uses its own index (case + time, mailbox + time). */
async function countReplies(tx: DbOrTx, draft: ReplyDraft, now: Date): Promise<{ perCase: number; perRecipient: number }> {
  const counted = sql`${outbox.status} in ('pending', 'sending', 'sent', 'held') and ${outbox.triggerKey} like ${AUTOMATIC_TRIGGER}`;
  const dayAgo = new Date(now.getTime() - 86_400_000).toISOString();
  const hourAgo = new Date(now.getTime() - 3_600_000).toISOString();
  const [counts] = await tx
    .select({
      perCase: sql<number>`(select count(*)::int from ${outbox} where ${outbox.caseId} = ${draft.caseId} and ${counted} and ${outbox.createdAt} >= ${dayAgo}::timestamptz)`,
      perRecipient: sql<number>`(select count(*)::int from ${outbox} where regexp_replace(lower(${outbox.toAddr}), '[+][^@]*@', '@') = ${mailboxKey(draft.to)} and ${counted} and ${outbox.createdAt} >= ${hourAgo}::timestamptz)`,
    })
    .from(sql`(select 1) as one`);
  return { perCase: Number(counts?.perCase ?? 0), perRecipient: Number(counts?.perRecipient ?? 0) };
}

/** A request for data (or a reminder) not yet sent when the case no longer waits for data is withdrawn (kept, not sent). */
export async function withdrawStaleRequests(tx: DbOrTx | CaseStore, caseId: number): Promise<void> {
  if (tx instanceof CaseStore) return tx.withdrawRequests(caseId);
  await tx
    .update(outbox)
    .set({ status: 'suppressed', suppressReason: WITHDRAWN })
    .where(
      and(
        eq(outbox.caseId, caseId),
        inArray(outbox.kind, ['missing_info', 'still_missing', 'reminder']),
        inArray(outbox.status, ['pending', 'held']),
      ),
    );
}
