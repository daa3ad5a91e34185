import { eq } from 'drizzle-orm';
import { audit } from '../audit';
import type { Db } from '../db/client';
import { outbox } from '../db/schema';
import { AppError } from '../errors';

/**
 * Staff send a `failed` reply again (after a wrong SMTP password was fixed, a mailbox was full…):
 * back to `pending`, due now, attempts from zero; audited.
 */
export async function requeueReply(db: Db, outboxId: number, actor: string, now: Date, caseId?: number): Promise<void> {
  await db.transaction(async (tx) => {
    const [r] = await tx.select().from(outbox).where(eq(outbox.id, outboxId)).for('update');
    // The server enforces what the page shows: the reply must belong to the case it was sent from.
    if (!r || (caseId !== undefined && r.caseId !== caseId)) throw new AppError('NOT_FOUND', `reply ${outboxId} not found`, { outboxId });
    if (r.status !== 'failed') throw new AppError('CONFLICT', `the reply is ${r.status}, not failed`, { outboxId, status: r.status });
    await tx
      .update(outbox)
      .set({ status: 'pending', attempts: 0, nextAttemptAt: now, lastError: null, claimedAt: null, claimedBy: null })
      .where(eq(outbox.id, outboxId));
    await audit(
      tx,
      {
        actor,
        action: 'reply.requeued',
        caseId: r.caseId,
        before: { outboxId, status: 'failed', lastError: r.lastError },
        after: { outboxId, status: 'pending' },
      },
      now,
    );
  });
}

/**
 * "Skicka ändå": staff send a reply the rules held back or suppressed (a rate limit, an unverified
 * sender, a request withdrawn): back to `pending`, due now; audited with the reason it had.
 */
export async function sendAnyway(db: Db, outboxId: number, actor: string, now: Date, caseId?: number): Promise<void> {
  await db.transaction(async (tx) => {
    const [r] = await tx.select().from(outbox).where(eq(outbox.id, outboxId)).for('update');
    if (!r || (caseId !== undefined && r.caseId !== caseId)) throw new AppError('NOT_FOUND', `reply ${outboxId} not found`, { outboxId });
    if (r.status !== 'suppressed' && r.status !== 'held')
      throw new AppError('CONFLICT', `the reply is ${r.status}, not held back`, { outboxId, status: r.status });
    if (!r.bodyText.trim()) throw new AppError('CONFLICT', 'the reply has no text', { outboxId });
    await tx
      .update(outbox)
      .set({ status: 'pending', attempts: 0, nextAttemptAt: now, lastError: null, claimedAt: null, claimedBy: null })
      .where(eq(outbox.id, outboxId));
    await audit(
      tx,
      {
        actor,
        action: 'reply.sent_anyway',
        caseId: r.caseId,
        before: { outboxId, status: r.status, reason: r.suppressReason },
        after: { outboxId, status: 'pending' },
      },
      now,
    );
  });
}
