import { and, asc, eq, sql } from 'drizzle-orm';
import type { AppContext } from '../context';
import { cases, outbox } from '../db/schema';
import { AppError, errorCode, errorMessage } from '../errors';
import type { OutboxRow, Transport } from './transport';

/** Backoff for transient failures: 30 s doubling up to an hour, with ±50 % jitter. */
export function backoffMs(attempts: number, random: () => number = Math.random): number {
  const base = Math.min(30_000 * 2 ** Math.max(0, attempts - 1), 3_600_000);
  return Math.round(base * (0.5 + random()));
}

/**
 * Sends due outbox rows. A row is claimed (status `sending`) in its own statement, sent, then
 * marked `sent`. The one window: SMTP accepted, crash before `sent` — such a row is found
 * `sending` at the next start and sent again with the same Message-ID.
 */
export class OutboxSender {
  private running: Promise<number> | null = null;

  constructor(
    private readonly ctx: AppContext,
    private readonly transport: Transport,
  ) {}

  /** At start-up: rows left `sending` by a crash go back to `pending`. */
  async recover(): Promise<number> {
    const rows = await this.ctx.database.db.update(outbox).set({ status: 'pending' }).where(eq(outbox.status, 'sending')).returning({ id: outbox.id });
    if (rows.length) this.ctx.log.warn({ component: 'outbox', count: rows.length }, 'replies left in sending state are retried');
    return rows.length;
  }

  /**
   * Sends everything due (a failed row is pushed back by its backoff, so the run ends); never
   * throws; overlapping calls share one run. `limit` bounds one run.
   */
  runOnce(limit = 100_000): Promise<number> {
    this.running ??= this.drain(limit).finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async claim(): Promise<(OutboxRow & { caseRef: string }) | null> {
    const { db } = this.ctx.database;
    const now = this.ctx.now();
    const rows = await db.execute<{ id: number }>(sql`
      update ${outbox} set status = 'sending', attempts = attempts + 1
      where id = (select id from ${outbox} where status = 'pending' and next_attempt_at <= ${now.toISOString()}::timestamptz
                  order by id limit 1 for update skip locked)
      returning id`);
    const list = (Array.isArray(rows) ? rows : (rows as { rows: Array<{ id: number }> }).rows) as Array<{ id: number }>;
    const id = list[0]?.id;
    if (id == null) return null;
    const [row] = await db
      .select({ o: outbox, caseRef: cases.ref })
      .from(outbox)
      .innerJoin(cases, eq(cases.id, outbox.caseId))
      .where(eq(outbox.id, id));
    return row ? { ...row.o, caseRef: row.caseRef } : null;
  }

  private async drain(limit: number): Promise<number> {
    const log = this.ctx.log.child({ component: 'outbox' });
    const { db } = this.ctx.database;
    let sent = 0;
    for (let i = 0; i < limit; i++) {
      let row: Awaited<ReturnType<OutboxSender['claim']>>;
      try {
        row = await this.claim();
      } catch (err) {
        log.error({ code: errorCode(err), err: errorMessage(err) }, 'cannot read the outbox');
        return sent;
      }
      if (!row) break;
      try {
        await this.transport.send(row, row.caseRef);
        await db.update(outbox).set({ status: 'sent', sentAt: this.ctx.now(), lastError: null }).where(eq(outbox.id, row.id));
        sent++;
        log.info({ outboxId: row.id, caseRef: row.caseRef, kind: row.kind, attempts: row.attempts }, 'reply sent');
      } catch (err) {
        const permanent = err instanceof AppError && err.code === 'SMTP_PERMANENT';
        const giveUp = permanent || row.attempts >= this.ctx.config.replies.maxAttempts;
        const next = new Date(this.ctx.now().getTime() + backoffMs(row.attempts));
        await db
          .update(outbox)
          .set({ status: giveUp ? 'failed' : 'pending', nextAttemptAt: next, lastError: errorMessage(err).slice(0, 500) })
          .where(and(eq(outbox.id, row.id), eq(outbox.status, 'sending')))
          .catch((e: unknown) => log.error({ code: errorCode(e) }, 'cannot record a send failure'));
        log.warn({ outboxId: row.id, code: errorCode(err), attempts: row.attempts, giveUp, context: err instanceof AppError ? err.context : undefined }, 'reply not sent');
      }
    }
    return sent;
  }

  /** Earliest time a pending reply is due (for tests and the poll loop). */
  async nextDue(): Promise<Date | null> {
    const [row] = await this.ctx.database.db
      .select({ at: outbox.nextAttemptAt })
      .from(outbox)
      .where(eq(outbox.status, 'pending'))
      .orderBy(asc(outbox.nextAttemptAt))
      .limit(1);
    return row?.at ?? null;
  }
}
