import { eq } from 'drizzle-orm';
import { audit } from '../audit';
import type { Db } from '../db/client';
import { outbox } from '../db/schema';
import { AppError } from '../errors';
import type { OutboxRow } from './transport';

/** One way staff put a reply back in the queue: from which states, what the refusal says, what the audit keeps. */
interface SendAgain {
  from: ReadonlyArray<OutboxRow['status']>;
  /** The states in words, for the refusal ("the reply is sent, not failed"). */
  fromWords: string;
  action: string;
  /** A reply with no text is refused (one the rules held back may have none). */
  needsText: boolean;
  /** What the audit's `before` keeps beside the id and status. */
  detail: (r: OutboxRow) => Record<string, unknown>;
}

/** Back to `pending`, due now, attempts from zero; audited. Only a reply of the given case when `caseId` is given. */
function sendAgain(way: SendAgain) {
  return async (db: Db, outboxId: number, actor: string, now: Date, caseId?: number): Promise<void> => {
    await db.transaction(async (tx) => {
      const [r] = await tx.select().from(outbox).where(eq(outbox.id, outboxId)).for('update');
      // The server enforces what the page shows: the reply must belong to the case it was sent from.
      if (!r || (caseId !== undefined && r.caseId !== caseId)) throw new AppError('NOT_FOUND', `reply ${outboxId} not found`, { outboxId });
      if (!way.from.includes(r.status))
        throw new AppError('CONFLICT', `the reply is ${r.status}, not ${way.fromWords}`, { outboxId, status: r.status });
      if (way.needsText && !r.bodyText.trim()) throw new AppError('CONFLICT', 'the reply has no text', { outboxId });
      await tx
        .update(outbox)
        .set({ status: 'pending', attempts: 0, nextAttemptAt: now, lastError: null, claimedAt: null, claimedBy: null })
        .where(eq(outbox.id, outboxId));
      await audit(
        tx,
        {
          actor,
          action: way.action,
          caseId: r.caseId,
          before: { outboxId, status: r.status, ...way.detail(r) },
          after: { outboxId, status: 'pending' },
        },
        now,
      );
    });
  };
}

/** Staff send a `failed` reply again (after a wrong SMTP password was fixed, a mailbox was full…). */
export const requeueReply = sendAgain({
  from: ['failed'],
  fromWords: 'failed',
  action: 'reply.requeued',
  needsText: false,
  detail: (r) => ({ lastError: r.lastError }),
});

/**
 * "Skicka ändå": staff send a reply the rules held back or suppressed (a rate limit, an unverified
 * sender, a request withdrawn); the audit keeps the reason it had.
 */
export const sendAnyway = sendAgain({
  from: ['suppressed', 'held'],
  fromWords: 'held back',
  action: 'reply.sent_anyway',
  needsText: true,
  detail: (r) => ({ reason: r.suppressReason }),
});
